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
from rules.units import format_value

log = logging.getLogger("cyclewatch.views")
_MARK = {True: "🟢", False: "⚪", None: "⏸"}
_STATE_MARK = {RuleStatus.FIRING: "🟢", RuleStatus.PENDING: "🟡", RuleStatus.INACTIVE: "⚪",
               "skipped": "⏸"}


def _check_line(check: Check, lang: str, detail: str | None = None) -> str:
    mark = _MARK[check.on]
    word = {True: "check_on", False: "check_off", None: "check_skipped"}[check.on]
    threshold = (
        text(lang, "threshold_part", threshold=format_value(check.threshold, check.unit, lang))
        if check.threshold is not None
        else ""
    )
    return text(
        lang, "check_line", mark=f"{mark} {text(lang, word)}", title=check.title,
        value=format_value(check.value, check.unit, lang), threshold=threshold,
        observed=check.observed or "—",
        detail=f"[{shown}]" if (shown := detail or _gauge_detail(check, lang)) else "",
    ).rstrip()


_LEG_MARK = {True: "✓", False: "✗", None: "?"}


def _gauge_detail(check: Check, lang: str) -> str:
    """Why a gauge is on, off or unknown: each leg marked, else its definition."""
    if check.on is None:
        return skip_reason(check.detail, lang)
    if check.legs:
        return " · ".join(f"{_LEG_MARK[on]} {title}" for title, on in check.legs)
    return check.detail


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


def _milestone_state(check: Check, lang: str) -> str:
    """A milestone's state in words when no rule view is at hand (the engine's are English)."""
    if check.on is None:
        return skip_reason(check.detail, lang)
    return text(lang, "state_firing" if check.on else "state_inactive")


def _with_legs(check: Check, lang: str) -> str:
    """`Policy easing (Fed securities up over 2% in 13 weeks)`, `Bubble conditions (5 of 5)`."""
    held = [title for title, on in check.legs if on]
    if not held:
        return check.title
    shown = (text(lang, "regime_and").join(held) if len(held) <= 2 else
             text(lang, "legs_of", held=len(held), total=len(check.legs)))
    return text(lang, "gauge_because", title=check.title, legs=shown)


def _sentence_case(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def verdict(found: Regime, lang: str) -> list[str]:
    """The regime in sentences: the verdict and the gauges that make it, or, undetermined,
    the last determined regime, the provisional reading and the releases awaited."""
    as_of = found.as_of.isoformat()
    if not found.determined:
        lines = [text(lang, "regime_undetermined", as_of=as_of)]
        if found.last_regime:
            lines.append(text(
                lang, "regime_last", regime=regime_name(found.last_regime, lang),
                since=found.last_since.isoformat() if found.last_since else "—",
                until=found.last_until.isoformat() if found.last_until else "—"))
        if found.provisional:
            lines.append(text(lang, "regime_provisional",
                              regime=regime_name(found.provisional, lang)))
        if found.waiting_for:
            lines.append(text(lang, "regime_waiting", series=", ".join(found.waiting_for)))
        return lines
    on = [_with_legs(c, lang) for c in found.checks if c.kind == "gauge" and c.on]
    gauges = (text(lang, "regime_gauges_on", gauges=text(lang, "regime_and").join(on)) if on
              else text(lang, "regime_gauges_none"))
    name = regime_name(found.regime, lang)
    if found.since is not None:
        line = text(lang, "regime_verdict", regime=name, since=found.since.isoformat(),
                    gauges=gauges)
    else:
        line = text(lang, "regime_verdict_today", regime=name, as_of=as_of, gauges=gauges)
    return [_sentence_case(line)]


def regime_text(found: Regime, lang: str, views: list[RuleView] | None = None) -> str:
    """The /regime answer: the verdict sentence, then each gauge and milestone with its value."""
    lines = [*verdict(found, lang), "",
             text(lang, "regime_title", as_of=found.as_of.isoformat(),
                  regime=regime_name(found.regime, lang))]
    states = {v.id: rule_state_text(v, lang) for v in views or ()}
    for kind, heading in (("gauge", "gauges_heading"), ("milestone", "milestones_heading")):
        lines += ["", text(lang, heading)]
        lines += [_check_line(c, lang, (states.get(c.id) or _milestone_state(c, lang))
                              if kind == "milestone" else None)
                  for c in found.checks if c.kind == kind]
    return "\n".join(lines)


def dashboard_png(insight: Insight, found: Regime, lang: str = "en") -> bytes:
    """The regime dashboard chart for `found` in `lang`, titled with the regime (cached per
    data version)."""
    version, data = insight.data()
    from bot.chat import charts  # matplotlib is ~40 MB: loaded on the first chart, not at start

    name = _sentence_case(regime_name(found.regime, lang))
    return charts.regime_dashboard(data, found.as_of, version, insight.ruleset, lang=lang,
                                   regime=name)


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
            text(lang, "threshold_part", threshold=format_value(check.threshold, check.unit, lang))
            if check.threshold is not None else ""
        )
        lines.append(text(lang, "why_current", value=format_value(check.value, check.unit, lang),
                          threshold=threshold,
                          observed=check.observed or "—"))
    last = insight.last_event(rule_id, as_of)
    if last is None:
        lines.append(text(lang, "why_never"))
    else:
        title, body = last.render(lang)
        lines += ["", text(lang, "why_last_event", date=last.date.isoformat()), title, body]
    version, data = insight.data()
    from bot.chat import charts

    chart = charts.rule_chart(data, insight.ruleset, rule_id, as_of, version, lang=lang)
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


def alert_chart(insight: Insight) -> Callable[[AlertPayload, str], bytes | None]:
    """A `chart_for` for the delivery worker: the alert's rule chart up to its date, in the
    chat's language.

    A chart that cannot be drawn (rule removed, data missing) leaves the alert without one.
    """

    def chart_for(alert: AlertPayload, lang: str = "en") -> bytes | None:
        try:
            version, data = insight.data()
            from bot.chat import charts

            return charts.rule_chart(data, insight.ruleset, alert.rule, alert.chart_date, version,
                                     lang=lang)
        except (KeyError, ValueError, TypeError):
            log.warning("no chart for alert %s", alert.rule, exc_info=True)
            return None

    return chart_for
