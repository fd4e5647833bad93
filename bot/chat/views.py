"""Text (and charts) for the read-only commands: /regime, /why, /rules, /history, /status."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.alerts.payload import AlertPayload
from bot.evaluate.insight import Insight, RuleView
from bot.i18n import text
from bot.store import SeriesStatus
from rules import Check, Regime, RuleStatus, Transition
from rules.explain import number

log = logging.getLogger("cyclewatch.views")
_MARK = {True: "🟢", False: "⚪", None: "⏸"}
_STATE_MARK = {RuleStatus.FIRING: "🟢", RuleStatus.PENDING: "🟡", RuleStatus.INACTIVE: "⚪",
               "skipped": "⏸"}


def _check_line(check: Check, lang: str, detail: str | None = None) -> str:
    mark = _MARK[check.on]
    word = {True: "check_on", False: "check_off", None: "check_skipped"}[check.on]
    threshold = (
        text(lang, "threshold_part", threshold=number(check.threshold))
        if check.threshold is not None
        else ""
    )
    return text(
        lang, "check_line", mark=f"{mark} {text(lang, word)}", title=check.title,
        value=number(check.value), threshold=threshold, observed=check.observed or "—",
        detail=f"[{shown}]" if (shown := detail or _gauge_detail(check, lang)) else "",
    ).rstrip()


def _gauge_detail(check: Check, lang: str) -> str:
    return skip_reason(check.detail, lang) if check.on is None else check.detail


def regime_name(regime_id: str, lang: str) -> str:
    """The regime's display name in `lang` (its id when unknown)."""
    try:
        return text(lang, f"regime_names_{regime_id}")
    except KeyError:
        return regime_id.replace("_", " ")


_STALE = re.compile(r"^(?P<series>\S+) stale: last (?P<last>[\d-]+), window (?P<days>\d+)d$")
_NO_DATA = re.compile(r"^no data for (?P<series>\S+)$")


def skip_reason(reason: str | None, lang: str) -> str:
    """The rule engine's skip reason in `lang` (its own words when the shape is unknown)."""
    reason = reason or ""
    if (match := _STALE.match(reason)) is not None:
        return text(lang, "reason_stale", **match.groupdict())
    if (match := _NO_DATA.match(reason)) is not None:
        return text(lang, "reason_no_data", **match.groupdict())
    return reason


def rule_state_text(view: RuleView, lang: str) -> str:
    """A rule's state in words: "firing since 2019-08-28", "skipped (...); before that: ..."."""
    def words(status: str) -> str:
        if status == RuleStatus.FIRING and view.since:
            return text(lang, "state_firing_since", since=view.since)
        return text(lang, f"state_{status}")

    if view.state == "skipped":
        return text(lang, "skipped_was", reason=skip_reason(view.reason, lang),
                    state=words(view.last_status))
    return words(view.state)


def regime_text(found: Regime, lang: str, views: list[RuleView] | None = None) -> str:
    """The /regime answer: the regime, then each gauge and milestone with its value."""
    lines = [text(lang, "regime_title", as_of=found.as_of.isoformat(),
                  regime=f"{regime_name(found.regime, lang)} ({found.regime})")]
    states = {v.id: rule_state_text(v, lang) for v in views or ()}
    for kind, heading in (("gauge", "gauges_heading"), ("milestone", "milestones_heading")):
        lines += ["", text(lang, heading)]
        lines += [_check_line(c, lang, states.get(c.id) if kind == "milestone" else None)
                  for c in found.checks if c.kind == kind]
    return "\n".join(lines)


def dashboard_png(insight: Insight, found: Regime) -> bytes:
    """The regime dashboard chart for `found` (cached per data version)."""
    version, data = insight.data()
    from bot.chat import charts  # matplotlib is ~40 MB: loaded on the first chart, not at start

    return charts.regime_dashboard(data, found.as_of, version, insight.ruleset)


@dataclass(frozen=True)
class WhyAnswer:
    """The /why answer: text and the rule's chart."""

    text: str
    chart: bytes | None


def why(insight: Insight, rule_id: str, as_of: date, lang: str) -> WhyAnswer:
    """Explain `rule_id`: its state now, latest value vs threshold, and its last change."""
    view = next(v for v in insight.rules(as_of, lang) if v.id == rule_id)
    lines = [text(lang, "why_title", title=view.title)]
    lines.append(text(lang, "why_now", state=rule_state_text(view, lang)))
    check = view.check
    if check is not None and check.value is not None:
        threshold = (
            text(lang, "threshold_part", threshold=number(check.threshold))
            if check.threshold is not None else ""
        )
        lines.append(text(lang, "why_current", value=number(check.value), threshold=threshold,
                          observed=check.observed or "—"))
    last = insight.last_event(rule_id, as_of)
    if last is None:
        lines.append(text(lang, "why_never"))
    else:
        title, body = last.render(lang)
        lines += ["", text(lang, "why_last_event", date=last.date.isoformat()), title, body]
    version, data = insight.data()
    from bot.chat import charts

    chart = charts.rule_chart(data, insight.ruleset, rule_id, as_of, version)
    return WhyAnswer("\n".join(lines), chart)


def rules_text(found: list[RuleView], lang: str) -> str:
    """The /rules answer: one line per rule."""
    lines = [text(lang, "rules_title")]
    for view in found:
        lines.append(text(lang, "rule_line", mark=_STATE_MARK.get(view.state, "•"),
                          id=view.id, title=view.title, state=rule_state_text(view, lang)))
    return "\n".join(lines)


def history_line(obs_date: date, state: str, payload: object, lang: str) -> str:
    """One /history line from a stored event (a payload we cannot read shows no title)."""
    try:
        alert = AlertPayload.from_payload(payload)
        title = alert.text_in(lang).title or alert.title
    except ValueError:
        title = ""
    return text(lang, "history_line", date=obs_date.isoformat(),
                mark="🟢" if state == Transition.FIRING else "⚪", title=title)


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def status_line(
    found: SeriesStatus, now: datetime, lang: str, stale_reason: str | None = None
) -> str:
    """One /status line: series, latest observation, last check, any error, and ⚠ when the
    rules find it too old to use."""
    checked = found.last_fetch_at
    line = text(
        lang, "status_line", series=found.series, source=found.source,
        last_obs=found.last_obs_date.isoformat() if found.last_obs_date else text(lang, "never"),
        age=_age(now - checked) if checked else text(lang, "never"),
        error=text(lang, "status_error", error=found.last_error) if found.last_error else "",
    )
    if stale_reason:
        line = f"⚠ {line} — {skip_reason(stale_reason, lang)}"
    return line


def alert_chart(insight: Insight) -> Callable[[AlertPayload], bytes | None]:
    """A `chart_for` for the delivery worker: the alert's rule chart up to its date.

    A chart that cannot be drawn (rule removed, data missing) leaves the alert without one.
    """

    def chart_for(alert: AlertPayload) -> bytes | None:
        try:
            version, data = insight.data()
            from bot.chat import charts

            return charts.rule_chart(data, insight.ruleset, alert.rule, alert.chart_date, version)
        except (KeyError, ValueError, TypeError):
            log.warning("no chart for alert %s", alert.rule, exc_info=True)
            return None

    return chart_for
