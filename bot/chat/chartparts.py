"""Pieces every chart shares: the window shown, titles and units, the footer, one panel with its
latest value labelled where the line is not, and y limits that one spike cannot flatten."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import date2num, num2date
from matplotlib.figure import Figure
from matplotlib.ticker import Locator

from bot.chat import chartstyle as cs
from bot.i18n import text
from rules import RuleSet
from rules.engine import Evaluator
from rules.model import pick_language
from rules.units import format_value, unit_label

YEARS_SHOWN = 10
TAIL = 0.25  # the right part of a panel the latest value's label takes


def window(values: pd.Series, as_of: date) -> pd.Series:
    """The last YEARS_SHOWN years up to `as_of`, without gaps."""
    end = pd.Timestamp(as_of)
    start = end - pd.DateOffset(years=YEARS_SHOWN)
    return values[(values.index >= start) & (values.index <= end)].dropna()


def named(name: str, ev: Evaluator) -> pd.Series | None:
    """A series or metric of the rules file by name, on its own dates."""
    try:
        found = ev.lookup(name)
    except (KeyError, ValueError):
        return None
    return found if isinstance(found, pd.Series) else None


def title_of(name: str, ruleset: RuleSet, lang: str) -> str:
    """The title of a series or metric in `lang` (its name when it has none)."""
    file = ruleset.file
    if name in file.series:
        return pick_language(file.series[name].title, lang) or name
    return pick_language(file.metric_titles.get(name), lang) or name


def scaled(values: pd.Series, unit: str | None) -> tuple[pd.Series, str | None]:
    """Dollars in the size people say: millions shown as trillions or billions."""
    if unit == "$ mn" and not values.empty:
        top = float(values.abs().max())
        if top >= 1e6:
            return values / 1e6, "$ tn"
        if top >= 1e3:
            return values / 1e3, "$ bn"
    if unit == "$ bn" and not values.empty and float(values.abs().max()) >= 1e3:
        return values / 1e3, "$ tn"
    return values, unit


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def wrap(title: str, lang: str, width: int = 46) -> str:
    """Lines that fit across a 1280 px chart at the title size: `width` Latin letters, a
    Chinese character counting two (words and numbers are not split)."""
    if lang != "zh":
        return "\n".join(textwrap.wrap(title, width)) or title
    tokens = re.findall(r"[A-Za-z0-9.,%$+\-\u2212\u00a0]+ ?|.", title)
    lines, line, size = [], "", 0
    for token in tokens:
        grow = sum(2 if _wide(c) else 1 for c in token)
        if line and size + grow > width:
            lines.append(line.rstrip())
            line, size = "", 0
        line, size = line + token, size + grow
    return "\n".join([*lines, line.rstrip()])


def inputs_of(ruleset: RuleSet, name: str) -> list[str]:
    """The input series a series or metric is made of (a metric's, recursively), in order."""
    found, stack, seen = [], [name], set()
    while stack:
        item = stack.pop(0)
        if item in seen:
            continue
        seen.add(item)
        if item in ruleset.file.series:
            found.append(item)
        elif item in ruleset.metrics:
            stack.extend(sorted(ruleset.metrics[item].names))
    return found


def sources(ruleset: RuleSet, names: Iterable[str]) -> str:
    """Up to three 'FRED WALCL' sources of the series among `names` (in that order), and how
    many more."""
    series = ruleset.file.series
    found = list(dict.fromkeys(f"{series[n].source.upper()} {series[n].id}"
                               for n in names if n in series))
    return ", ".join(found[:3]) + (f" +{len(found) - 3}" if len(found) > 3 else "")


def footer(fig: Figure, lang: str, as_of: date, names: str) -> None:
    """The as-of date and the sources, small and grey, under the chart."""
    line = text(lang, "chart_footer", as_of=as_of.isoformat(), sources=names)
    fig.supxlabel(wrap(line, lang, 52), x=0.02, ha="left", fontsize=cs.SMALL, color=cs.GREY)


def x(stamp: pd.Timestamp) -> float:
    """A date as a matplotlib x coordinate."""
    return float(date2num(stamp.to_pydatetime()))  # type: ignore[no-untyped-call]


class Years(Locator):
    """A tick on 1 January of every `base`-th year: matplotlib's YearLocator's ticks, without
    the calendar rule it walks for them (the slowest part of laying a chart out)."""

    def __init__(self, base: int) -> None:
        self.base = base

    def __call__(self) -> list[float]:
        """The ticks of the axis' view."""
        low, high = self.axis.get_view_interval()  # type: ignore[union-attr]
        return self.tick_values(low, high)

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        """Every `base`-th New Year's day from the one on or before `vmin` to the one on or
        after `vmax`."""
        first = num2date(min(vmin, vmax)).year  # type: ignore[no-untyped-call]
        last = num2date(max(vmin, vmax)).year  # type: ignore[no-untyped-call]
        low = max(1, first // self.base * self.base)
        high = min(9999, -(-last // self.base) * self.base)
        return [x(pd.Timestamp(year, 1, 1)) for year in range(low, high + 1, self.base)]


def years(shown: pd.Series) -> Locator:
    """About four year ticks across the span shown."""
    span = (shown.index[-1] - shown.index[0]).days / 365.25 if len(shown) > 1 else 1
    return Years(max(1, round(span / 4)))


def limit_spike(ax: Axes, shown: pd.Series) -> None:
    """Clip one spike (2020) so that it does not flatten the years around it."""
    low, high = shown.quantile(0.03), shown.quantile(0.97)
    if float(shown.max()) > high + 3 * (high - low):
        bottom = float(shown.min())
        ax.set_ylim(float(bottom - 0.1 * (high - bottom)), float(high + 0.6 * (high - low)))


def label_latest(ax: Axes, shown: pd.Series, unit: str | None, lang: str, color: str) -> None:
    """The latest value at the right edge, at the height where the line's last quarter is
    farthest away (joined to the last point when it sits away from it)."""
    last_x, last = shown.index[-1], float(shown.iloc[-1])
    ax.plot([last_x], [last], marker="o", color=color, markersize=5, zorder=4)
    low, high = ax.get_ylim()
    cut = shown.index[0] + (shown.index[-1] - shown.index[0]) * (1 - TAIL)
    tail = ((shown[shown.index >= cut].to_numpy(dtype=float) - low) / (high - low or 1.0))
    here = min(max((last - low) / (high - low or 1.0), 0.0), 1.0)
    spots = np.linspace(0.1, 0.9, 33)
    room = np.array([np.min(np.abs(tail - spot)) for spot in spots])
    # The most room, among the spots with enough of it the one nearest the last point.
    fits = spots[room >= min(0.14, float(room.max()))]
    spot = float(fits[np.argmin(np.abs(fits - here))])
    ax.annotate(format_value(last, unit, lang), (last_x, last), xytext=(0.99, spot),
                textcoords="axes fraction", ha="right", va="center", fontsize=cs.SMALL,
                color=color, zorder=5,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 2},
                arrowprops=None if abs(spot - here) < 0.12 else
                {"arrowstyle": "-", "color": color, "linewidth": 0.8, "shrinkA": 0,
                 "relpos": (1.0, 1.0 if here > spot else 0.0)})  # from the label's right end


def plot(ax: Axes, shown: pd.Series, unit: str | None, title: str, lang: str,
         color: str = cs.BLUE, threshold: float | None = None, line_in_title: bool = False,
         ) -> None:
    """One panel: its title with the unit, the line (and the rule's line, dashed, named in
    the title or labelled for a legend), the latest value labelled."""
    label = unit_label(unit, lang)
    heading = f"{title} ({label})" if label else title
    line = None if threshold is None else text(
        lang, "chart_line", value=format_value(threshold, unit, lang))
    if line is not None and line_in_title:
        heading += " · " + line.replace(" ", "\u00a0")  # wrapped as one piece
    ax.set_title(wrap(heading, lang), loc="left", fontsize=cs.BODY)
    ax.grid(alpha=0.3)
    if shown.empty:
        ax.text(0.5, 0.5, text(lang, "chart_no_data"), ha="center", va="center",
                transform=ax.transAxes)
        return
    ax.plot(shown.index, shown.to_numpy(), color=color, linewidth=2.2, zorder=3)
    if threshold is not None:
        ax.axhline(threshold, color=cs.VERMILLION, linestyle="--", linewidth=1.6, zorder=3,
                   label=None if line_in_title else line)
    limit_spike(ax, shown)
    ax.xaxis.set_major_locator(years(shown))
    label_latest(ax, shown, unit, lang, color)
