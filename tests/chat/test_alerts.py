"""Rendering one stored alert for a chat: language, severity, buttons, resolve edits."""

from __future__ import annotations

from datetime import date

from bot.alerts.payload import AlertPayload, event_payload
from bot.alerts.render import MAX_ACTION_BYTES, render_alert
from bot.i18n import phrases, text
from rules import Event, RuleSet, Transition


def test_every_phrase_exists_in_both_languages_with_the_same_placeholders() -> None:
    import string

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    en, zh = phrases("en"), phrases("zh")
    assert set(en) <= set(zh)
    for key, template in en.items():
        assert fields(template) == fields(zh[key]), key


def test_firing_and_resolved_in_each_language(ruleset: RuleSet) -> None:
    rule = ruleset.rule("qt_ends")
    firing = AlertPayload.from_event(Event(rule=rule, state=Transition.FIRING,
                                           date=date(2030, 1, 2), value=1.0))
    resolved = AlertPayload.from_event(Event(rule=rule, state=Transition.RESOLVED,
                                             date=date(2030, 2, 6), value=0.1))
    en = render_alert(firing, "en")
    zh = render_alert(firing, "zh")
    assert en.title.startswith(text("en", "alert_firing")) and "Severity: milestone" in en.body
    assert zh.title.startswith(text("zh", "alert_firing")) and "级别:里程碑" in zh.body
    assert [b.action for b in zh.buttons] == [
        "/mute qt_ends 1d", "/mute qt_ends 7d", "/why qt_ends"]
    done = render_alert(resolved, "en", replaces=("m1", "m2"))
    assert done.title.startswith(text("en", "alert_resolved"))
    assert done.replaces == ("m1", "m2") and done.buttons == ()
    assert render_alert(firing, "en", replaces=("m1",)).replaces == ()  # only resolves edit


def test_warning_headline_and_unknown_language_falls_back(ruleset: RuleSet) -> None:
    payload = event_payload(Event(rule=ruleset.rule("rate_cut"), state="firing",
                                  date=date(2030, 1, 2)))
    payload["severity"] = "warning"
    alert = AlertPayload.from_payload(payload)
    assert render_alert(alert, "zh").title.startswith("警示")
    assert render_alert(alert, "fr").title == render_alert(alert, "en").title


def test_buttons_never_exceed_telegram_callback_limit(ruleset: RuleSet) -> None:
    payload = event_payload(Event(rule=ruleset.rule("qt_ends"), state="firing",
                                  date=date(2030, 1, 2)))
    payload["rule"] = "r" * 57  # a user rule with a long id
    message = render_alert(AlertPayload.from_payload(payload), "en")
    assert all(len(b.action.encode()) <= MAX_ACTION_BYTES for b in message.buttons)
    assert [b.action for b in message.buttons] == [f"/why {'r' * 57}"]
