"""Text (and charts) for the read-only commands: /regime, /why, /rules, /history, /status."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.alerts.payload import AlertPayload
from bot.chat.seedtext import RegimeFacts, alert_lines, event_text
from bot.evaluate.dates import insight_answerable
from bot.evaluate.insight import Insight, RuleView
from bot.i18n import text
from bot.store import SeriesStatus
from rules import Check, Regime, RuleStatus, Transition
from rules.alerttext import input_titles
from rules.units import format_value

log = logging.getLogger("cyclewatch.views")
_MARK = {True: "🟢", False: "⚪", None: "⏸"}
_STATE_MARK = {RuleStatus.FIRING: "🟢", RuleStatus.PENDING: "🟡", RuleStatus.INACTIVE: "⚪",
               "skipped": "⏸"}
Inputs = Mapping[str, tuple[str, str | None]]  # input name or series id -> (title, code)
WAITING_SHOWN = 4  # the awaited inputs named in the undetermined verdict; the rest counted


def input_label(key: str, lang: str, inputs: Inputs | None = None, *, cite: bool = True) -> str:
    """An input as a person reads it: its title, with its public code in parentheses when it
    has one ("Effective fed funds rate (DFF)"); the bare id only where no title exists."""
    title, code = (inputs or {}).get(key, (key, None))
    if not cite or not code or re.search(rf"\b{re.escape(code)}\b", title):
        return title
    return text(lang, "input_cited", title=title, code=code)


def _check_line(check: Check, lang: str, detail: str | None = None,
                inputs: Inputs | None = None) -> str:
    """`🟢 ON Title — What the value is: 4.5 %, line 4 % (as of D) [why]`; a value
    that is unknown is left out (the detail says why), and a known state whose input went
    stale says it was last seen so."""
    word = {True: "check_on", False: "check_off", None: "check_skipped"}[check.on]
    if check.stale and check.on is not None:
        word = "check_last_on" if check.on else "check_last_off"
        reason = skip_reason(check.stale, lang, inputs)
        detail = (text(lang, "state_then_stale", state=detail, reason=reason) if detail
                  else reason)
    value = ""
    if check.value is not None:
        threshold = (
            text(lang, "threshold_part",
                 threshold=format_value(check.threshold, check.unit, lang))
            if check.threshold is not None else ""
        )
        value = text(lang, "check_value", title=check.value_title or text(lang, "value_word"),
                     value=format_value(check.value, check.unit, lang), threshold=threshold)
    shown = _gauge_detail(check, lang, inputs) if detail is None else detail
    return text(
        lang, "check_line", mark=f"{_MARK[check.on]} {text(lang, word)}", title=check.title,
        value=value,
        observed=text(lang, "check_observed", observed=check.observed) if check.observed else "",
        detail=text(lang, "check_detail", detail=shown) if shown else "",
    ).rstrip()


_LEG_MARK = {True: "✓", False: "✗", None: "?"}


def _gauge_detail(check: Check, lang: str, inputs: Inputs | None = None) -> str:
    """Why a gauge is on, off or unknown: each leg marked, else its definition."""
    if check.on is None:
        return skip_reason(check.detail, lang, inputs)
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
_NOT_YET = "not enough history yet"


def skip_reason(reason: str | None, lang: str, inputs: Inputs | None = None) -> str:
    """The rule engine's skip reason in `lang`, each input by its title when `inputs` has one
    (the engine's own words when the shape is unknown)."""
    reason = reason or ""
    for key, pattern in (("reason_stale", _STALE), ("reason_no_data", _NO_DATA)):
        if (match := pattern.match(reason)) is not None:
            found = match.groupdict()
            label = found["series"] = input_label(found["series"], lang, inputs)
            shown = text(lang, key, **found)
            if label.isascii():  # a bare id between Chinese characters gets its spaces
                shown = re.sub(rf"(?<=[^\x00-\x7f]){re.escape(label)}", f" {label}", shown)
                shown = re.sub(rf"{re.escape(label)}(?=[^\x00-\x7f])", f"{label} ", shown)
            return shown
    if reason == _NOT_YET:
        return text(lang, "reason_not_yet")
    return reason


def _state_words(view: RuleView, status: str, lang: str) -> str:
    if status == RuleStatus.FIRING and view.since:
        return text(lang, "state_firing_since", since=view.since)
    return text(lang, f"state_{status}")


def rule_state_text(view: RuleView, lang: str, inputs: Inputs | None = None) -> str:
    """A rule's state in words: "firing since 2019-08-28", "skipped (...); before that: ..."."""
    if view.state == "skipped":
        return text(lang, "skipped_was", reason=skip_reason(view.reason, lang, inputs),
                    state=_state_words(view, view.last_status, lang))
    return _state_words(view, view.state, lang)


def _milestone_detail(check: Check, view: RuleView | None, lang: str,
                      inputs: Inputs | None) -> str:
    """A milestone's state in words for its /regime row (the mark already says "skipped")."""
    if view is not None and view.state == "skipped":
        reason = skip_reason(view.reason, lang, inputs)
        if view.last_status == RuleStatus.INACTIVE or not _STALE.match(view.reason or ""):
            return reason  # nothing to add: it was not firing, or there is no "before"
        return text(lang, "stale_was", reason=reason,
                    state=_state_words(view, view.last_status, lang))
    if view is not None and view.state == RuleStatus.FIRING and view.since:
        return text(lang, "row_since", since=view.since)  # the mark already says ON
    if view is not None and view.state == RuleStatus.INACTIVE:
        return ""  # the mark already says off
    if view is not None:
        return _state_words(view, view.state, lang)
    if check.on is None:
        return skip_reason(check.detail, lang, inputs)
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


def waiting_text(found: Regime, lang: str, shown: int = WAITING_SHOWN) -> str:
    """The awaited inputs by title, each once: the first `shown`, then how many more."""
    titles = list(dict.fromkeys(input_label(s, lang, found.inputs, cite=False)
                                for s in found.waiting_for))
    listed = text(lang, "list_sep").join(titles[:shown])
    if len(titles) <= shown:
        return listed
    return text(lang, "list_more", items=listed, more=len(titles) - shown)


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
            lines.append(text(lang, "regime_waiting", series=waiting_text(found, lang)))
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


def _event_line(check: Check, view: RuleView | None, event: str, lang: str,
                inputs: Inputs | None) -> str:
    """A one-off milestone's row: what last happened, with its date and size, never "off"
    the day after (🔔 ON on the day it fires, else 🔹 event)."""
    firing = view is not None and view.state == RuleStatus.FIRING
    mark = f"🔔 {text(lang, 'check_on')}" if firing else f"🔹 {text(lang, 'check_event')}"
    if view is not None and view.state == "skipped":  # what happened, and why a new one
        mark = f"{_MARK[None]} {text(lang, 'check_skipped')}"  # could go unseen now
        event = text(lang, "event_and_skip", event=event,
                     reason=skip_reason(view.reason, lang, inputs))
    return f"{mark} {check.title} — {event}"


def regime_text(found: Regime, lang: str, views: list[RuleView] | None = None,
                facts: RegimeFacts | None = None) -> str:
    """The /regime answer: the verdict sentence, then each gauge and milestone with its value;
    with `facts`, a one-off milestone's row says its last event and the seed's numbers follow.

    Undetermined, the verdict sentence already says so with its date: no second title line.
    """
    lines = verdict(found, lang)
    if found.determined:
        lines += ["", text(lang, "regime_title", as_of=found.as_of.isoformat(),
                           regime=regime_name(found.regime, lang))]
    by_id = {v.id: v for v in views or ()}
    inputs = found.inputs
    events = facts.events if facts else {}
    for kind, heading in (("gauge", "gauges_heading"), ("milestone", "milestones_heading")):
        lines += ["", text(lang, heading)]
        lines += [_event_line(c, by_id.get(c.id), events[c.id], lang, inputs)
                  if c.id in events else
                  _check_line(c, lang, _milestone_detail(c, by_id.get(c.id), lang, inputs)
                              if kind == "milestone" else None, inputs)
                  for c in found.checks if c.kind == kind]
    if facts and facts.numbers:
        lines += ["", text(lang, "seed_heading"), *facts.numbers]
    return "\n".join(lines)


def dashboard_png(insight: Insight, found: Regime, lang: str = "en") -> bytes:
    """The regime dashboard chart for `found` in `lang`, titled with the regime (cached per
    data version)."""
    version, data = insight.data()
    from bot.chat import charts  # matplotlib is ~40 MB: loaded on the first chart, not at start

    name = _sentence_case(regime_name(found.regime, lang))
    return charts.regime_dashboard(data, found.as_of, version, insight.ruleset, lang=lang,
                                   regime=name)


def outside_data(insight: Insight, as_of: date, lang: str) -> str | None:
    """One line when the data cannot answer `as_of` (bot/evaluate/dates.py), else None."""
    found = insight_answerable(insight)
    if found is None or not found.refuses(as_of):
        return None
    return text(lang, "date_outside_data", as_of=as_of.isoformat(),
                first=found.first.isoformat(), until=found.until.isoformat())


@dataclass(frozen=True)
class WhyAnswer:
    """The /why answer: text and the rule's chart."""

    text: str
    chart: bytes | None


def why(insight: Insight, rule_id: str, as_of: date, lang: str) -> WhyAnswer:
    """Explain `rule_id`: its state now, latest value vs threshold, and its last change."""
    view = next(v for v in insight.rules(as_of, lang) if v.id == rule_id)
    inputs = input_titles(insight.ruleset.file, lang)
    lines = [text(lang, "why_title", title=view.title)]
    check = view.check
    if insight.one_off(rule_id):  # an event: what happened, not "not firing" the day after
        event = event_text(insight.event_move(rule_id, as_of), lang)
        lines.append(text(lang, "why_event_now", event=event))
        if view.state == "skipped":
            lines.append(text(lang, "why_now", state=rule_state_text(view, lang, inputs)))
    else:
        lines.append(text(lang, "why_now", state=rule_state_text(view, lang, inputs)))
    if check is not None and check.value is not None:
        threshold = (
            text(lang, "threshold_part", threshold=format_value(check.threshold, check.unit, lang))
            if check.threshold is not None else ""
        )
        lines.append(text(lang, "why_current", value=format_value(check.value, check.unit, lang),
                          title=check.value_title or text(lang, "value_word"),
                          threshold=threshold,
                          observed=check.observed or "—"))
    elif check is not None and check.stale:
        lines.append(text(lang, "why_stale", reason=skip_reason(check.stale, lang, inputs)))
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


def rules_text(found: list[RuleView], lang: str, inputs: Inputs | None = None,
               events: Mapping[str, str] | None = None) -> str:
    """The /rules answer: one line per rule (stale inputs by their titles from `inputs`); a
    one-off rule's line says its last event (`events`, by rule id) unless it fires now."""
    lines = [text(lang, "rules_title")]
    for view in found:
        state = rule_state_text(view, lang, inputs)
        mark = _STATE_MARK.get(view.state, "•")
        if events and view.id in events and view.state != RuleStatus.FIRING:
            state, mark = events[view.id], "🔹"
            if view.state == "skipped":
                state = text(lang, "event_and_skip", event=state,
                             reason=skip_reason(view.reason, lang, inputs))
        lines.append(text(lang, "rule_line", mark=mark, id=view.id, title=view.title,
                          state=state))
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


def alert_numbers(insight: Insight) -> Callable[[AlertPayload, str], list[str]]:
    """A `numbers_for` for the delivery worker: the seed's numbers that bear on the alert's
    rule, as known on its date, in the chat's language (none when they cannot be computed)."""

    def numbers_for(alert: AlertPayload, lang: str = "en") -> list[str]:
        try:
            return alert_lines(insight.seed_numbers(alert.as_of or alert.date), alert.rule, lang)
        except (KeyError, ValueError, TypeError):
            log.warning("no numbers for alert %s", alert.rule, exc_info=True)
            return []

    return numbers_for
