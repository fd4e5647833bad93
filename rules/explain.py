"""Events and their explanations, rendered from sandboxed Jinja2 templates in en or zh."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from rules.alerttext import PHRASES, named_lines, resolved_sentence, value_line
from rules.model import Localized, pick_language
from rules.ruleset import Rule
from rules.sandbox import render_bounded
from rules.states import Transition
from rules.units import format_value

State = Transition  # kept as the name the rest of rules/ uses


def number(value: object) -> str:
    """A compact number without unit (4,542,228 / 3.25 / -0.4 / n/a); people get `format_value`."""
    if not isinstance(value, int | float) or math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != 0 else "0"


def _clean(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Event:
    """A transition of one rule: it started firing, or it resolved, at an observation date.

    `value` is the value at this date (for a resolved event: the current value, not the one
    at firing); `as_of` is the date the data were known (the evaluation date in the bot).
    """

    rule: Rule = field(compare=False, repr=False)
    state: State
    date: dt.date
    value: float | None = None
    threshold: float | None = None
    values: dict[str, float | None] = field(default_factory=dict)
    as_of: dt.date | None = None
    rule_id: str = ""
    observed: dt.date | None = None  # observation date of the newest input behind `date`
    since: dt.date | None = None  # for a resolved event: when it started firing
    announced: dt.datetime | None = field(default=None, compare=False)  # when it was public

    def __post_init__(self) -> None:
        if not self.rule_id:
            object.__setattr__(self, "rule_id", self.rule.id)

    @property
    def distance(self) -> float | None:
        """Value minus threshold (None when either is unknown)."""
        if self.value is None or self.threshold is None:
            return None
        return self.value - self.threshold

    @property
    def severity(self) -> str:
        """The rule's severity: milestone, warning or info."""
        return self.rule.spec.severity

    def title(self, lang: str = "en") -> str:
        """The rule's title in `lang` (English fallback)."""
        return pick_language(self.rule.spec.title, lang)

    def render(self, lang: str = "en") -> tuple[str, str]:
        """(title, text) in `lang` ('en' or 'zh', falling back to English): the plain
        sentence first, then the numbers with units, then what would falsify it."""
        lang = lang if lang in PHRASES else "en"
        spec = self.rule.spec
        title, words = self.title(lang), PHRASES[lang]
        meaning, falsify = pick_language(spec.meaning, lang), pick_language(spec.falsify, lang)
        if self.state == Transition.RESOLVED:
            parts = [resolved_sentence(title, self.date, self.since, lang)]
            if self.value is not None:
                parts.append(value_line(spec, self.value, self.threshold, lang, now=True))
            return title, "\n".join(parts)
        context: dict[str, Any] = {
            "rule": spec.id,
            "state": self.state,
            "title": title,
            "as_of": (self.as_of or self.date).isoformat(),
            "date": self.date.isoformat(),
            "value": self.value,
            "threshold": self.threshold,
            "distance": self.distance,
            "values": dict(self.values),
            "num": number,
            "fmt": lambda v, unit=None: format_value(v, unit, lang),
            "unit": spec.unit,
            "meaning": meaning,
            "falsify": falsify,
            "firing": True,
        }
        opening = render_template(spec.explain, lang, context).strip()
        if not opening:
            opening = words["opening"].format(date=self.date.isoformat(), meaning=meaning)
            opening = opening.strip().rstrip(" —:")
        numbers = []
        if self.value is not None or spec.value is not None:
            numbers.append(value_line(spec, self.value, self.threshold, lang))
        numbers += named_lines(spec, self.values, lang)
        parts = [opening, "\n".join(numbers)]
        if falsify:
            parts.append(words["falsify"].format(falsify=falsify))
        return title, "\n\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (English title) for `--json` and the store."""
        return {
            "rule": self.rule_id,
            "state": self.state,
            "date": self.date.isoformat(),
            "value": self.value,
            "threshold": self.threshold,
            "distance": self.distance,
            "title": self.title("en"),
            "severity": self.severity,
            "values": dict(self.values),
            "as_of": (self.as_of or self.date).isoformat(),
            "observed": (self.observed or self.date).isoformat(),
            "unit": self.rule.spec.unit,
            "value_units": {k: self.rule.spec.value_spec(k).unit for k in self.values
                            if k in self.rule.spec.values},
            "since": self.since.isoformat() if self.since else None,
            "announced": self.announced.isoformat() if self.announced else None,
        }


def render_template(template: Localized | None, lang: str, context: dict[str, Any]) -> str:
    """Render a user template in the sandbox; a broken template yields a visible note."""
    source = pick_language(template, lang)
    if not source:
        return ""
    try:  # bounded: loops, calls, size and time (rules/sandbox.py); values print, objects don't
        return render_bounded(source, context)
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as err:
        return f"(explanation template failed: {err})"


def make_event(
    rule: Rule,
    state: State,
    when: dt.date,
    value: float | None,
    threshold: float | None,
    values: dict[str, float | None],
    as_of: dt.date | None,
    observed: dt.date | None = None,
    since: dt.date | None = None,
    announced: dt.datetime | None = None,
) -> Event:
    """An Event with NaN turned into None."""
    return Event(
        rule=rule,
        state=Transition(state),
        date=when,
        value=_clean(value),
        threshold=threshold,
        values={k: _clean(v) for k, v in values.items()},
        as_of=as_of,
        observed=observed,
        since=since,
        announced=announced,
    )
