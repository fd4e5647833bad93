"""The shape of a rules file: pydantic models that refuse unknown keys."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.units import Unit

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
DURATION = re.compile(r"^\s*(\d+)\s*([dwmqy])\s*$")
DAYS_PER_UNIT = {"d": 1, "w": 7, "m": 31, "q": 92, "y": 366}

Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


def parse_duration(text: str) -> tuple[int, str]:
    """Split '26w' into (26, 'w'); raise ValueError on anything else."""
    match = DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a period like '14d', '4w', '6m', '1q' or '10y'")
    count = int(match.group(1))
    if count <= 0 or count > 100 * 366:
        raise ValueError(f"{text!r} is out of range")
    return count, match.group(2)


def duration_days(text: str) -> int:
    """An upper bound in days for a period like '4w' (a month counts 31 days)."""
    count, unit = parse_duration(text)
    return count * DAYS_PER_UNIT[unit]


class Strict(BaseModel):
    """Base for every section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


Localized = str | dict[Literal["en", "zh"], str]


def pick_language(text: Localized | None, lang: str) -> str:
    """The text in `lang`, falling back to English, then to ''."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get("en") or ""  # type: ignore[call-overload]


def _check_localized(value: Localized | None) -> Localized | None:
    if isinstance(value, dict) and "en" not in value:
        raise ValueError("give the English text under 'en' (other languages fall back to it)")
    return value


def _check_duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


# The keys every series has; any other key is an option of its source (checked by the
# loader against the schema the caller gives for that source, e.g. csv's url and columns).
SERIES_KEYS = ("source", "id", "title", "units", "unit", "lag", "fresh", "until")


class SeriesSpec(Strict):
    """One input series: where it comes from and how quickly it is known and goes stale;
    `options` holds the keys that only its source understands (a csv series' url...)."""

    source: Identifier = "fred"
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    title: Localized | None = None
    units: Unit | None = None  # written `unit:` (or `units:`, the older key)
    lag: str | None = None  # publication lag after the observation date, e.g. '45d'
    fresh: str | None = None  # stale when the newest observation is older than this
    # The source stopped publishing: its last observation is on or before this date (FRED's
    # discontinued DFEDTAR, Shiller's CAPE in the data). After it the series is "no longer
    # published", never awaited.
    until: date | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    _durations = field_validator("lag", "fresh")(_check_duration)
    _texts = field_validator("title")(_check_localized)

    @model_validator(mode="before")
    @classmethod
    def _collect_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        common = {("units" if k == "unit" else k): v for k, v in data.items() if k in SERIES_KEYS}
        return {**common, "options": {k: v for k, v in data.items() if k not in SERIES_KEYS}}


class ValueSpec(Strict):
    """A named value shown with an alert: its expression, unit and title."""

    expr: str = Field(min_length=1, max_length=2000)
    unit: Unit | None = None
    title: Localized | None = None

    _texts = field_validator("title")(_check_localized)


class RuleSpec(Strict):
    """One alerting rule (a milestone of the debt cycle, or any user trigger)."""

    id: Identifier
    title: Localized
    when: str = Field(min_length=1, max_length=2000)
    for_: int = Field(1, alias="for", ge=1, le=1000)
    clear_when: str | None = Field(None, min_length=1, max_length=2000)
    keep_firing_for: int = Field(0, ge=0, le=1000)
    on: str | None = None  # the series whose observations are the rule's clock
    value: str | None = Field(None, max_length=2000)
    threshold: float | None = None
    unit: Unit | None = None  # the unit of `value` and `threshold`
    value_title: Localized | None = None  # what `value` is, in words
    values: dict[Identifier, str | ValueSpec] = Field(default_factory=dict)
    chart: Identifier | None = None  # the series or metric a person thinks in
    severity: Literal["milestone", "warning", "info"] = "milestone"
    announce_resolved: bool = True  # False for one-off events such as a rate cut
    meaning: Localized | None = None
    falsify: Localized | None = None
    explain: Localized | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _texts = field_validator("title", "meaning", "falsify", "explain", "value_title")(
        _check_localized
    )

    def value_exprs(self) -> dict[str, str]:
        """Each named value's expression."""
        return {k: v if isinstance(v, str) else v.expr for k, v in self.values.items()}

    def value_spec(self, name: str) -> ValueSpec:
        """The named value with its unit and title (a bare expression has neither)."""
        entry = self.values[name]
        return ValueSpec(expr=entry) if isinstance(entry, str) else entry


class GaugeSpec(Strict):
    """A yes/no gauge of the regime checklist."""

    id: Identifier
    title: Localized
    when: str = Field(min_length=1, max_length=2000)
    value: str | None = Field(None, max_length=2000)
    unit: Unit | None = None
    legs: list[Identifier] = Field(default_factory=list)  # metrics shown as its reasons
    detail: Localized | None = None

    _texts = field_validator("title", "detail")(_check_localized)


class RegimeChoice(Strict):
    """One regime and the gauges that select it (tried in order, first match wins)."""

    id: Identifier
    when: str = Field(min_length=1, max_length=2000)
    title: Localized | None = None

    _texts = field_validator("title")(_check_localized)


class RegimesSpec(Strict):
    """The /regime classification: gauges, then regimes tried in order, then a default."""

    gauges: list[GaugeSpec] = Field(min_length=1)
    choose: list[RegimeChoice] = Field(min_length=1)
    default: Identifier = "neutral"


class RulesFile(Strict):
    """A whole rules.yaml."""

    series: dict[Identifier, SeriesSpec] = Field(min_length=1)
    metrics: dict[Identifier, str] = Field(default_factory=dict)
    # A metric is one expression; its unit and title sit beside it, under the same name.
    metric_units: dict[Identifier, Unit] = Field(default_factory=dict)
    metric_titles: dict[Identifier, dict[Literal["en", "zh"], str]] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    regimes: RegimesSpec | None = None

    @model_validator(mode="after")
    def _described_metrics_exist(self) -> RulesFile:
        for section in (self.metric_units, self.metric_titles):
            for name in section:
                if name not in self.metrics:
                    raise ValueError(f'"{name}" is not a metric')
        for gauge in self.regimes.gauges if self.regimes else ():
            for leg in gauge.legs:
                if leg not in self.metrics:
                    raise ValueError(f'gauge "{gauge.id}": leg "{leg}" is not a metric')
        for rule in self.rules:
            if rule.chart is not None and rule.chart not in (*self.series, *self.metrics):
                raise ValueError(
                    f'rule "{rule.id}": chart "{rule.chart}" is not a series or metric')
        return self

    def unit_of(self, name: str) -> str | None:
        """The declared unit of a series or metric (None when it has none)."""
        if name in self.series:
            return self.series[name].units
        return self.metric_units.get(name)
