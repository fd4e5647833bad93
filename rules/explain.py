"""Events and their explanations, rendered from sandboxed Jinja2 templates in en or zh."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from rules.model import Localized, pick_language
from rules.ruleset import Rule
from rules.states import Transition
from rules.templates import SANDBOX

State = Transition  # kept as the name the rest of rules/ uses


DEFAULT_TEXT = {
    "en": (
        "{{ headline }} as of {{ as_of }}."
        "{% if value is not none %} Value {{ num(value) }}"
        "{% if threshold is not none %}, threshold {{ num(threshold) }}"
        " (distance {{ num(distance) }}){% endif %}.{% endif %}"
        "{% for name, v in values.items() %} {{ name }} = {{ num(v) }}.{% endfor %}"
        "{% if meaning %}\nWhat it means: {{ meaning }}{% endif %}"
        "{% if falsify %}\nWhat would prove it wrong: {{ falsify }}{% endif %}"
    ),
    "zh": (
        "{{ headline }}(数据截至 {{ as_of }})。"
        "{% if value is not none %}当前值 {{ num(value) }}"
        "{% if threshold is not none %},阈值 {{ num(threshold) }}"
        "(距阈值 {{ num(distance) }}){% endif %}。{% endif %}"
        "{% for name, v in values.items() %}{{ name }} = {{ num(v) }}。{% endfor %}"
        "{% if meaning %}\n含义:{{ meaning }}{% endif %}"
        "{% if falsify %}\n何种情况可证伪:{{ falsify }}{% endif %}"
    ),
}
HEADLINE = {
    ("en", "firing"): "Triggered",
    ("en", "resolved"): "No longer holds",
    ("zh", "firing"): "已触发",
    ("zh", "resolved"): "已解除",
}


def number(value: object) -> str:
    """A compact human number: 4,542,228 / 3.25 / -0.4 / n/a."""
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
        """(title, text) in `lang` ('en' or 'zh', falling back to English)."""
        lang = lang if lang in DEFAULT_TEXT else "en"
        spec = self.rule.spec
        context: dict[str, Any] = {
            "rule": spec.id,
            "state": self.state,
            "title": self.title(lang),
            "headline": HEADLINE[(lang, self.state)],
            "as_of": (self.as_of or self.date).isoformat(),
            "date": self.date.isoformat(),
            "value": self.value,
            "threshold": self.threshold,
            "distance": self.distance,
            "values": dict(self.values),
            "num": number,
            "meaning": pick_language(spec.meaning, lang),
            "falsify": pick_language(spec.falsify, lang),
            "firing": self.state == Transition.FIRING,
        }
        text = render_template(spec.explain, lang, context)
        if spec.explain is None or not text:
            text = render_template(DEFAULT_TEXT[lang], lang, context)
        resolved = "[resolved] " if lang == "en" else "[已解除] "
        prefix = "" if self.state == Transition.FIRING else resolved
        return prefix + self.title(lang), text.strip()

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
        }


def render_template(template: Localized | None, lang: str, context: dict[str, Any]) -> str:
    """Render a user template in the sandbox; a broken template yields a visible note."""
    source = pick_language(template, lang)
    if not source:
        return ""
    try:
        return SANDBOX.from_string(source).render(context)
    except (TemplateError, TypeError, ValueError, ArithmeticError) as err:
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
    )
