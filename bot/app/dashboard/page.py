"""The dashboard page, rendered on the server (it reads fine with JavaScript off; the script
adds the timeline's tooltips and the interactive charts)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.app.dashboard.model import HISTORY_START, DashboardModel
from bot.app.dashboard.texts import words
from bot.app.dashboard.timeline import WIDTH, markers, segments

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
    trim_blocks=True, lstrip_blocks=True,
)


def _state_text(rule: dict[str, Any], t: dict[str, str]) -> str:
    if rule.get("event_text"):  # a one-off milestone says what last happened, never "off"
        return str(rule["event_text"])
    state = rule["state"]
    if state == "firing":
        return t["state_firing"].format(since=rule["since"] or "?")
    if state == "skipped":
        return t["state_skipped"].format(reason=rule["skipped_reason"] or "?")
    return t["state_pending"] if state == "pending" else t["state_inactive"]


def _last_text(rule: dict[str, Any], t: dict[str, str]) -> str:
    if rule.get("one_off"):
        return ""  # the event text already gives its date
    last = rule["last_transition"]
    if last is None:
        return t["never_fired"]
    key = "last_resolved" if last["state"] == "resolved" else "last_fired"
    return t[key].format(date=last["date"])


def _sentence(regime: dict[str, Any], t: dict[str, str]) -> tuple[str, str]:
    """The regime now in one sentence, and the line about the last determined regime."""
    if regime["determined"]:
        since = t["since"].format(since=regime["since"]) if regime.get("since") else ""
        return t["now_determined"].format(
            as_of=regime["as_of"], name=regime["name"], since=since), ""
    provisional = regime.get("provisional_name") or t["none"]
    line = t["now_undetermined"].format(as_of=regime["as_of"], provisional=provisional)
    last = regime.get("last_determined")
    note = t["last_determined"].format(
        name=regime["names_last"], since=last["since"] or "?", until=last["until"] or "?",
    ) if last else ""
    return line, note


def render(model: DashboardModel, lang: str, as_of: date) -> str:
    """The whole page for `lang` as of `as_of` (cached per data version)."""

    def compute() -> str:
        t = words(lang)
        regime = dict(model.regime(as_of, lang))
        history = model.history(HISTORY_START, as_of, "month", lang)
        last = regime.get("last_determined")
        if last:
            regime["names_last"] = history["names"].get(last["regime"]) or last["regime"]
        sentence, note = _sentence(regime, t)
        rules = model.rules(as_of, lang)
        titles = {r["id"]: r["title"] for r in rules}
        items = history["items"]
        segs = segments(items, history["names"])
        marks = markers(items, model.events(), titles)
        for rule in rules:
            rule["state_text"] = _state_text(rule, t)
            rule["last_text"] = _last_text(rule, t)
        island = {  # read by the script as data (a JSON script element is never executed)
            "lang": lang, "names": history["names"], "t": t,
            "months": [i["as_of"] for i in items],
            "marks": {m.as_of: list(m.events) for m in marks},
        }
        history_url = f"/api/regime/history?from={HISTORY_START}&to={as_of}&every=month"
        return _env.get_template("index.html").render(
            t=t, lang=lang, other="zh" if lang == "en" else "en", regime=regime,
            sentence=sentence, note=note, segments=segs, markers=marks, width=WIDTH,
            rules=rules, freshness=model.freshness(as_of), version=model.version(),
            as_of=as_of.isoformat(), history_url=history_url,
            legend=sorted({(s.regime, s.name) for s in segs}),
            island=json.dumps(island, ensure_ascii=False).replace("</", "<\\/"),
        )

    html: str = model.cached(("page", lang, as_of), compute)
    return html
