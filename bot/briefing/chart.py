"""The weekly briefing's chart: net liquidity, reserves and the Fed's total assets over the two
years to the H.4.1's week, in $ tn, with the week marked; and the delivery worker's
`chart_for` that draws it for a briefing (a rule's chart for every other alert)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from matplotlib.dates import DateFormatter, MonthLocator

from bot.briefing.facts import NET_LIQUIDITY, line_series
from bot.briefing.text import line_title
from bot.chat.chartparts import x
from bot.chat.chartstyle import BLUE, GREEN, ORANGE, SMALL, figure, png, style
from bot.evaluate.insight import Insight
from bot.i18n import text
from rules.units import unit_label

SHOWN = ((NET_LIQUIDITY, ORANGE), ("reserves", BLUE), ("total_assets", GREEN))
YEARS = 2


def briefing_png(insight: Insight, week: date, lang: str = "en") -> bytes:
    """The chart for the briefing of the H.4.1 of `week`, titled in `lang`."""
    found = line_series(insight.ruleset, insight.data()[1])
    start = pd.Timestamp(week - timedelta(days=365 * YEARS))
    with style(lang):
        fig = figure(4.8)
        ax = fig.add_subplot(1, 1, 1)
        for name, color in SHOWN:
            values = found.get(name)
            if values is None:
                continue
            shown = values[(values.index >= start) & (values.index <= pd.Timestamp(week))]
            ax.plot(shown.index, shown.to_numpy() / 1000, color=color, linewidth=2,
                    label=line_title(insight.ruleset, name, lang))
        ax.axvline(x(pd.Timestamp(week)), color="#767676", linewidth=1, linestyle=":")
        ax.set_ylabel(unit_label("$ tn", lang))
        ax.set_title(text(lang, "briefing_title", week=week.isoformat()))
        ax.legend(loc="best", fontsize=SMALL * 0.8)
        ax.xaxis.set_major_locator(MonthLocator(bymonth=(1, 7)))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m"))  # type: ignore[no-untyped-call]
        ax.grid(alpha=0.3)
        return png(fig)

