"""The bridge from the store to rules/: the regime with its checklist, `/why`, every rule's
state and recent transitions, cached per data version (rules file + newest observations)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa

from bot.evaluate.frames import frames_of
from bot.store import Store
from bot.store.schema import observations
from rules import (
    Check,
    Event,
    Regime,
    RuleSet,
    RuleStatus,
    Transition,
    backtest,
    classify_regime,
    states_at,
)
from rules.engine import shared_evaluator
from rules.seednumbers import EventMove, SeedNumbers, event_move, is_one_off, seed_numbers

CACHE_ENTRIES = 256
QT_ENDS = "qt_ends"  # the milestone whose firing dates "since QT ended" for the seed's numbers
DataLoader = Callable[[], Mapping[str, pd.Series]]
VersionOf = Callable[[], str]


@dataclass(frozen=True)
class RuleView:
    """One rule's current state for `/rules` and `/why`."""

    id: str
    title: str
    severity: str
    state: str  # firing | pending | inactive | skipped
    since: str | None
    check: Check | None
    reason: str | None
    # The state from the data we have, even when skipped now.
    last_status: RuleStatus = RuleStatus.INACTIVE


def frame_version(data: Mapping[str, pd.Series]) -> str:
    """A short hash of each series' length and newest observation (the data version)."""
    digest = hashlib.sha256()
    for name in sorted(data):
        values = data[name]
        newest = values.index.max() if len(values) else None
        last = values.iloc[-1] if len(values) else None
        digest.update(f"{name}:{len(values)}:{newest}:{last};".encode())
    return digest.hexdigest()[:16]


class Insight:
    """Answers regime/why/rules questions for the chat commands; one cache per data version.

    `load` returns the input series keyed by id (e.g. from `Store.frame`); `version` returns a
    cheap token that changes when the data change (default: hash of what `load` returned).
    """

    def __init__(
        self, ruleset: RuleSet, load: DataLoader, version: VersionOf | None = None
    ) -> None:
        self.ruleset = ruleset
        self._load = load
        self._version = version
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._cached_version: str | None = None
        self._data: Mapping[str, pd.Series] = {}

    @classmethod
    def from_store(cls, ruleset: RuleSet, store: Store) -> Insight:
        """Read the rules' inputs from the store (latest vintage)."""
        ids = sorted({series.id for series in ruleset.inputs})

        def version() -> str:
            # Observations are only ever inserted (a revision is a new row), so the newest
            # row id changes exactly when the data do; an index lookup, cheap on every call.
            with store.engine.connect() as conn:
                newest = conn.execute(sa.select(sa.func.max(observations.c.id))).scalar()
            return f"rows-{newest}"

        frames = frames_of(store)
        return cls(ruleset, lambda: frames.frame(ids), version)

    @property
    def rule_ids(self) -> list[str]:
        """Every rule id in file order."""
        return [rule.id for rule in self.ruleset.rules]

    def data(self) -> tuple[str, Mapping[str, pd.Series]]:
        """(data version, input series), reloading and clearing the cache when data changed."""
        with self._lock:
            token = self._version() if self._version else None
            if token is None or token != self._cached_version:
                data = self._load()
                token = token or frame_version(data)
                if token != self._cached_version:
                    self._cache.clear()
                    self._cached_version, self._data = token, data
            assert self._cached_version is not None
            return self._cached_version, self._data

    def cached(self, key: tuple[object, ...], compute: Callable[[], object]) -> object:
        """`compute()` once per (data version, key); the least recently used answers go first."""
        version, _ = self.data()
        full = (version, *key)
        with self._lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute()
        with self._lock:
            self._cache[full] = value
            while len(self._cache) > CACHE_ENTRIES:  # /regime <any date> must not grow forever
                self._cache.popitem(last=False)
        return value

    def holds(self, key: tuple[object, ...]) -> bool:
        """Whether an answer for `key` is cached for the data as they are now."""
        version, _ = self.data()
        with self._lock:
            return (version, *key) in self._cache

    def has_data(self) -> bool:
        """Whether any input series is in the store."""
        return bool(self.data()[1])

    def regime(self, as_of: date, lang: str = "en") -> Regime:
        """The regime and its checklist with what was known on `as_of`."""
        result = self.cached(
            ("regime", as_of, lang),
            lambda: classify_regime(self.ruleset, self.data()[1], as_of, lang),
        )
        assert isinstance(result, Regime)
        return result

    def rules(self, as_of: date, lang: str = "en") -> list[RuleView]:
        """Each rule's state on `as_of`, in file order."""

        def compute() -> list[RuleView]:
            states, skipped, _, _ = states_at(self.ruleset, self.data()[1], as_of)
            reasons = {s.rule: s.reason for s in skipped}
            checks = {c.id: c for c in self.regime(as_of, lang).checks if c.kind == "milestone"}
            views = []
            for rule in self.ruleset.rules:
                state = states[rule.id]
                reason = reasons.get(rule.id)
                views.append(
                    RuleView(
                        rule.id,
                        checks[rule.id].title if rule.id in checks else rule.id,
                        rule.spec.severity,
                        "skipped" if reason else state.status,
                        state.since,
                        checks.get(rule.id),
                        reason,
                        state.status,
                    )
                )
            return views

        result = self.cached(("rules", as_of, lang), compute)
        assert isinstance(result, list)
        return result

    def last_event(self, rule_id: str, as_of: date) -> Event | None:
        """The rule's most recent transition up to `as_of` (None if it never changed)."""

        def compute() -> Event | None:
            found = backtest(self.ruleset, self.data()[1], until=as_of, only=[rule_id])
            return found[-1] if found else None

        result = self.cached(("last_event", rule_id, as_of), compute)
        assert result is None or isinstance(result, Event)
        return result

    def stale_series(self, as_of: date) -> dict[str, str]:
        """Series id -> why the rules cannot use it on `as_of` (missing or too old)."""

        def compute() -> dict[str, str]:
            stamp = pd.Timestamp(as_of)
            ev = shared_evaluator(self.ruleset, self.data()[1], stamp)
            found = {}
            for name, prepared in ev.inputs.items():
                reason = ev.stale_reason(frozenset({name}), stamp)
                if reason is not None:
                    found[prepared.series_id] = reason
            return found

        result = self.cached(("stale", as_of), compute)
        assert isinstance(result, dict)
        return result

    def last_events(self, as_of: date) -> dict[str, Event]:
        """The last transition up to `as_of` of each one-off rule and of `qt_ends` (what
        /regime's event rows and the seed's numbers start from), in one pass."""

        def compute() -> dict[str, Event]:
            ids = [r for r in self.rule_ids if r == QT_ENDS or self.one_off(r)]
            found = backtest(self.ruleset, self.data()[1], until=as_of, only=ids) if ids else []
            return {e.rule_id: e for e in sorted(found, key=lambda e: e.date)}  # later wins

        result = self.cached(("last_events", as_of), compute)
        assert isinstance(result, dict)
        return result

    def one_off(self, rule_id: str) -> bool:
        """Whether the rule's firing is an event (a cut, a hike), not a state that holds."""
        return is_one_off(self.ruleset.rule(rule_id).spec)

    def event_move(self, rule_id: str, as_of: date) -> tuple[Event, EventMove | None] | None:
        """A one-off rule's last event up to `as_of` with the policy move behind it (None
        when it never fired; no move when the target did not change then)."""
        last = self.last_events(as_of).get(rule_id)
        if last is None or last.state != Transition.FIRING:
            return None

        def compute() -> EventMove | None:
            return event_move(self.data()[1], last.date, as_of)

        found = self.cached(("event_move", rule_id, as_of), compute)
        assert found is None or isinstance(found, EventMove)
        return last, found

    def seed_numbers(self, as_of: date) -> SeedNumbers:
        """The seed's numbers on `as_of` (rules/seednumbers.py); "since QT ended" counts from
        the last firing of `qt_ends` while it still holds."""

        def compute() -> SeedNumbers:
            ended, over = None, None
            last = self.last_events(as_of).get(QT_ENDS)
            if last is not None and last.state == Transition.FIRING:
                ended = last.date
            elif last is not None and last.since is not None:  # that end gave way
                over = (last.since, last.date)
            lags = {item.id: item.spec.lag for item in self.ruleset.inputs}
            return seed_numbers(self.data()[1], as_of, ended, lags, over)

        result = self.cached(("seed", as_of), compute)
        assert isinstance(result, SeedNumbers)
        return result
