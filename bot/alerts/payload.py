"""An alert as the outbox stores it (`events.payload`): the stored JSON, and the typed value
the delivery side rebuilds from it for the renderer and the charts.

The JSON keys are those of `rules.Event.to_dict()` plus `texts` ({lang: {title, text}}),
pre-rendered in every language at the time of the event. Rows written by older versions may
lack keys; they get the defaults below, so they still deliver.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.i18n import LANGUAGES
from rules import Event, Transition

BRIEFING = "briefing"  # the rule id under which the weekly briefing is stored and sent


def event_payload(event: Event) -> dict[str, Any]:
    """What the outbox needs to render the alert later, in every language we speak."""
    payload = event.to_dict()
    payload["texts"] = {}
    for lang in LANGUAGES:
        title, body = event.render(lang)
        payload["texts"][lang] = {"title": title, "text": body}
    return payload


class AlertText(BaseModel):
    """The alert's title and explanation in one language."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str = ""
    text: str = ""


class AlertPayload(BaseModel):
    """One stored alert, validated: what `render_alert` and the chart drawer read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rule: str
    state: Transition = Transition.FIRING
    date: dt.date
    value: float | None = None
    threshold: float | None = None
    distance: float | None = None
    title: str = ""
    severity: str = "milestone"
    values: dict[str, float | None] = Field(default_factory=dict)
    as_of: dt.date | None = None
    observed: dt.date | None = None
    unit: str | None = None
    value_units: dict[str, str | None] = Field(default_factory=dict)
    since: dt.date | None = None
    announced: dt.datetime | None = None  # when the data behind it became public
    # By language; texts that depend on the reader's time zone (the briefing's release times)
    # also under "<lang>@<zone>".
    texts: dict[str, AlertText] = Field(default_factory=dict)

    @classmethod
    def from_payload(cls, raw: object) -> AlertPayload:
        """Validate a stored payload; raise ValueError naming each problem when it cannot be one."""
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'payload'}: {problem['msg']}"
                for problem in err.errors()
            )
            raise ValueError(f"not an alert payload: {problems}") from None

    @classmethod
    def from_event(cls, event: Event) -> AlertPayload:
        """The typed alert of a fresh event, exactly as it reads back from the store."""
        return cls.from_payload(event_payload(event))

    def text_in(self, lang: str, zone: str | None = None) -> AlertText:
        """The texts in `lang` (as written for `zone` when they depend on it), else English,
        else empty."""
        zoned = self.texts.get(f"{lang}@{zone}") if zone else None
        return zoned or self.texts.get(lang) or self.texts.get("en") or AlertText()

    @property
    def chart_date(self) -> dt.date:
        """The date the alert's chart runs to: when the data were known, else the observation."""
        return self.as_of or self.date
