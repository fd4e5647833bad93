"""The chart an alert is sent with: its rule's, or for a briefing the briefing's own (drawn
by bot/briefing/chart.py, which loads matplotlib: on the first briefing, not at start)."""

from __future__ import annotations

from bot.alerts.compose import ChartFor
from bot.alerts.payload import BRIEFING, AlertPayload
from bot.evaluate.insight import Insight


def with_briefing_chart(chart_for: ChartFor, insight: Insight) -> ChartFor:
    """`chart_for` (an alert's rule chart), and the briefing's own chart for a briefing."""

    def chart(alert: AlertPayload, lang: str = "en") -> bytes | None:
        if alert.rule == BRIEFING:
            from bot.briefing.chart import briefing_png

            return briefing_png(insight, alert.date, lang)
        return chart_for(alert, lang)

    return chart
