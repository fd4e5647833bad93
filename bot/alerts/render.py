"""An outbox row's event rendered as a platform-neutral Message in the chat's language."""

from __future__ import annotations

from collections.abc import Sequence

from bot.alerts.payload import BRIEFING, AlertPayload
from bot.i18n import text
from bot.notifiers.base import Button, Message
from rules import Transition

MAX_ACTION_BYTES = 64  # Telegram callback_data limit
SEVERITY_KEYS = frozenset({"warning", "info"})  # milestone uses plain alert_firing
# Rows written before the headline moved here carry the state in their title too.
LEGACY_PREFIXES = ("[resolved] ", "[已解除] ")


def plain_title(title: str) -> str:
    """The rule's title without the state prefix older payloads stored in it."""
    for prefix in LEGACY_PREFIXES:
        title = title.removeprefix(prefix)
    return title


def severity_name(severity: str, lang: str) -> str:
    """milestone / warning / info in `lang` (an unknown severity as given)."""
    if severity in SEVERITY_KEYS or severity == "milestone":
        return text(lang, f"severity_{severity}")
    return severity


def alert_buttons(rule_id: str, lang: str) -> tuple[Button, ...]:
    """Mute 1d / Mute 7d / Why? — each action a command line for `bot.chat.commands.handle`."""
    candidates = (
        Button(text(lang, "button_mute_1d"), f"/mute {rule_id} 1d"),
        Button(text(lang, "button_mute_7d"), f"/mute {rule_id} 7d"),
        Button(text(lang, "button_why"), f"/why {rule_id}"),
    )
    return tuple(b for b in candidates if len(b.action.encode()) <= MAX_ACTION_BYTES)


def render_alert(
    alert: AlertPayload,
    lang: str,
    *,
    replaces: tuple[str, ...] = (),
    chart_png: bytes | None = None,
    plain: bool = False,
    numbers: Sequence[str] = (),
    zone: str | None = None,
) -> Message:
    """The alert for one chat: localized title and explanation, the seed's `numbers` that
    bear on it (bot/chat/seedtext.py), severity, buttons; the weekly briefing as written, in
    the chat's `zone`."""
    chosen = alert.text_in(lang, zone)
    if alert.rule == BRIEFING:
        return Message(title=chosen.title, body=chosen.text, chart_png=chart_png, plain=plain,
                       tags={"rule": BRIEFING, "date": alert.date.isoformat(),
                             "severity": alert.severity})
    firing = alert.state is Transition.FIRING
    severity = alert.severity
    headline = text(lang, "alert_resolved")
    if firing:
        headline = text(lang, f"alert_firing_{severity}" if severity in SEVERITY_KEYS else
                        "alert_firing")
    observed = alert.date.isoformat()
    body = "\n\n".join(
        part
        for part in (
            chosen.text,
            numbers_block(numbers, lang),
            text(lang, "alert_severity", severity=severity_name(severity, lang)),
            text(lang, "alert_observed", date=observed),
        )
        if part
    )
    return Message(
        title=f"{headline}: {plain_title(chosen.title or alert.title or alert.rule)}",
        body=body,
        chart_png=chart_png,
        buttons=alert_buttons(alert.rule, lang) if firing else (),
        plain=plain,
        replaces=replaces if alert.state is Transition.RESOLVED else (),
        tags={"rule": alert.rule, "state": alert.state.value, "date": observed,
              "severity": severity},
    )


def numbers_block(numbers: Sequence[str], lang: str) -> str:
    """The seed's numbers under their heading ("" when there are none)."""
    return "\n".join([text(lang, "seed_heading"), *numbers]) if numbers else ""


def render_group(
    alerts: list[AlertPayload], lang: str, *, chart_png: bytes | None = None,
    numbers: Sequence[str] = (),
) -> Message:
    """Several transitions of one evaluation for one chat as one message: each alert's
    headline and text in turn, the seed's `numbers` once, a Why? button per firing rule, the
    first alert's chart."""
    parts, buttons = [], []
    for alert in alerts:
        single = render_alert(alert, lang)
        parts.append(f"▶ {single.title}\n{alert.text_in(lang).text}")
        if alert.state is Transition.FIRING:
            why = Button(f"{text(lang, 'button_why')} {_short(single.title)}", f"/why {alert.rule}")
            if len(why.action.encode()) <= MAX_ACTION_BYTES:
                buttons.append(why)
    dates = sorted({a.date for a in alerts})
    severities = [a.severity for a in alerts]
    severity = "milestone" if "milestone" in severities else severities[0]
    if numbers:
        parts.append(numbers_block(numbers, lang))
    parts.append(text(lang, "alert_observed", date=", ".join(d.isoformat() for d in dates)))
    return Message(
        title=text(lang, "group_title", count=len(alerts), date=dates[-1].isoformat()),
        body="\n\n".join(parts),
        chart_png=chart_png,
        buttons=tuple(buttons),
        tags={"rule": ",".join(a.rule for a in alerts), "state": "group",
              "date": dates[-1].isoformat(), "severity": severity},
    )


def _short(title: str, limit: int = 28) -> str:
    """A headline's rule part, cut to fit a button."""
    words = plain_title(title.split(": ", 1)[-1])
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
