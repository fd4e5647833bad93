"""What the dashboard shows, as JSON-safe dicts: the regime now and over time, the rules with
their states and firing periods, chart points, freshness; cached per data version."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from bot.app.dashboard.units import unit_of
from bot.chat.seedtext import event_text, seed_lines
from bot.chat.views import regime_name, skip_reason
from bot.evaluate.insight import Insight
from rules import Event, Transition, backtest, regime_history
from rules.alerttext import input_titles
from rules.engine import shared_evaluator, trace_rule
from rules.model import pick_language
from rules.units import format_value

EVERY = {"day": "B", "week": "W-FRI", "month": "ME"}
HISTORY_START = date(1990, 1, 1)
MAX_POINTS = 2500  # per chart: a phone draws 36 years of a daily series no better than this
Clock = Callable[[], date]


def history_dates(start: date, end: date, every: str) -> list[date]:
    """Business days, Fridays or month-ends from `start` to `end` (both ends included), as
    `cyclewatch regime --from --to --every` uses them."""
    days = [stamp.date() for stamp in pd.date_range(start, end, freq=EVERY[every])]
    return days if days and days[-1] == end else [*days, end]


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


class DashboardModel:
    """The dashboard's numbers over an `Insight` (the same store-to-rules bridge as the chat)."""

    def __init__(self, insight: Insight, today: Clock) -> None:
        self.insight = insight
        self.today = today
        self.computed: Counter[str] = Counter()  # answers computed (not cached), by kind
        self._counting = threading.Lock()

    def version(self) -> str:
        """The data version every cached answer is keyed by."""
        return self.insight.data()[0]

    def cached(self, key: tuple[object, ...], compute: Callable[[], Any]) -> Any:
        """`compute()` once per data version, in the Insight's cache (one model per rule set);
        each computation is counted in `computed` under its kind (`key[0]`)."""

        def counted() -> Any:
            with self._counting:
                self.computed[str(key[0])] += 1
            return compute()

        return self.insight.cached(("dashboard", *key), counted)

    def warm(self) -> None:
        """Compute what the first view needs (the page, the whole history, every chart)."""
        today = self.today()
        for lang in ("en", "zh"):
            self.regime(today, lang)
            self.rules(today, lang)
        self.history(HISTORY_START, today, "month", "en")
        self.events()
        self.freshness(today)
        for rule in self.insight.ruleset.rules:
            self.chart(rule.id)

    def warmed(self) -> bool:
        """Whether `warm` has computed every chart for the data as they are now."""
        return all(self.insight.holds(("dashboard", "chart", rule.id))
                   for rule in self.insight.ruleset.rules)

    def regime(self, as_of: date, lang: str) -> dict[str, Any]:
        """The regime on `as_of` with its checklist, as `cyclewatch regime --json` prints it,
        plus display texts (`name`, each check's `value_text` and `detail_text`)."""

        def compute() -> dict[str, Any]:
            found = self.insight.regime(as_of, lang)
            out = found.to_dict()
            out["name"] = regime_name(found.regime, lang)
            if not found.determined:
                out["provisional_name"] = regime_name(found.provisional or "", lang) \
                    if found.provisional else None
            units = {r.id: unit_of(self.insight.ruleset, r) for r in self.insight.ruleset.rules}
            inputs = input_titles(self.insight.ruleset.file, lang)
            for check in out["checks"]:
                unit = units.get(check["id"]) if check["kind"] == "milestone" else "count"
                check["unit"] = unit
                check["value_text"] = "" if check["value"] is None else \
                    format_value(check["value"], unit, lang)
                check["threshold_text"] = "" if check["threshold"] is None else \
                    format_value(check["threshold"], unit, lang)
                check["detail_text"] = skip_reason(check["detail"], lang, inputs) \
                    if check["on"] is None else check["detail"]
                check["age_days"] = (as_of - date.fromisoformat(check["observed"])).days \
                    if check["observed"] else None
            out["numbers"] = self.numbers(as_of, lang)
            out["data_version"] = self.version()
            return out

        result: dict[str, Any] = self.cached(("regime", as_of, lang), compute)
        return result

    def history(self, start: date, end: date, every: str, lang: str) -> dict[str, Any]:
        """The regime at each date (one vectorized pass), each item as the CLI's `--json`
        prints it without its checklist."""

        def compute() -> dict[str, Any]:
            ruleset, data = self.insight.ruleset, self.insight.data()[1]
            found = regime_history(ruleset, data, history_dates(start, end, every), lang)
            items = []
            for r in found:
                item = r.to_dict()
                item.pop("checks")
                items.append(item)
            names = {i["regime"] for i in items} | {i.get("provisional") or "" for i in items}
            return {
                "from": start.isoformat(), "to": end.isoformat(), "every": every,
                "data_version": self.version(), "items": items,
                "names": {n: regime_name(n, lang) for n in sorted(names) if n},
            }

        result: dict[str, Any] = self.cached(("history", start, end, every, lang), compute)
        return result

    def _events(self) -> list[Event]:
        found: list[Event] = self.cached(
            ("events",), lambda: backtest(self.insight.ruleset, self.insight.data()[1])
        )
        return found

    def events(self) -> list[dict[str, Any]]:
        """Every transition of every rule over history, as `cyclewatch backtest --json`."""
        found: list[dict[str, Any]] = self.cached(
            ("events-json",), lambda: [e.to_dict() for e in self._events()]
        )
        return found

    def numbers(self, as_of: date, lang: str) -> dict[str, Any]:
        """The seed's numbers on `as_of` (rules/seednumbers.py): the figures, and the lines
        /regime shows (`lines`)."""
        found = self.insight.seed_numbers(as_of)
        out: dict[str, Any] = json_safe(asdict(found))
        out["lines"] = [line.removeprefix("• ") for line in seed_lines(found, lang)]
        return out

    def event_dates(self, rule_id: str) -> list[str]:
        """The dates a one-off rule fired over history: points, not periods."""
        return [e.date.isoformat() for e in self._events()
                if e.rule_id == rule_id and e.state == Transition.FIRING]

    def periods(self, rule_id: str) -> list[list[str | None]]:
        """[[started firing, resolved or None], ...] of one rule over history; none for a
        one-off rule, whose firing is an event (`event_dates`), not a state with an end."""
        if self.insight.one_off(rule_id):
            return []
        spans: list[list[str | None]] = []
        for event in self._events():
            if event.rule_id != rule_id:
                continue
            if event.state == Transition.FIRING:
                spans.append([event.date.isoformat(), None])
            elif spans and spans[-1][1] is None:
                spans[-1][1] = event.date.isoformat()
        return spans

    def rules(self, as_of: date, lang: str) -> list[dict[str, Any]]:
        """Each rule: state (firing since / pending / inactive / skipped and why), its last
        transition, firing periods, meaning and falsification, in file order."""

        def compute() -> list[dict[str, Any]]:
            ruleset = self.insight.ruleset
            inputs = input_titles(ruleset.file, lang)
            checks = {c["id"]: c for c in self.regime(as_of, lang)["checks"]}
            out = []
            for view in self.insight.rules(as_of, lang):
                rule = ruleset.rule(view.id)
                last = [e for e in self._events() if e.rule_id == view.id and e.date <= as_of]
                out.append({
                    "id": view.id, "title": view.title, "severity": view.severity,
                    "state": view.state, "since": view.since,
                    "skipped_reason":
                        skip_reason(view.reason, lang, inputs) if view.reason else None,
                    "last_status": str(view.last_status),
                    "last_transition": last[-1].to_dict() if last else None,
                    "periods": self.periods(view.id),
                    "one_off": self.insight.one_off(view.id),
                    "events": self.event_dates(view.id) if self.insight.one_off(view.id) else [],
                    "event_text": event_text(self.insight.event_move(view.id, as_of), lang)
                    if self.insight.one_off(view.id) else None,
                    "check": checks.get(view.id),
                    "unit": unit_of(ruleset, rule),
                    "meaning": pick_language(rule.spec.meaning, lang).strip(),
                    "falsify": pick_language(rule.spec.falsify, lang).strip(),
                })
            return out

        result: list[dict[str, Any]] = self.cached(("rules", as_of, lang), compute)
        return result

    def chart(self, rule_id: str) -> dict[str, Any]:
        """The rule's deciding value since 1990 (or its condition, 1 = met), its threshold and
        firing periods: the points of its chart."""

        def compute() -> dict[str, Any]:
            ruleset = self.insight.ruleset
            rule = ruleset.rule(rule_id)
            end = pd.Timestamp(self.today())
            trace = trace_rule(shared_evaluator(ruleset, self.insight.data()[1], end), rule)
            kind, values = "value", np.asarray(trace.value, dtype="float64")
            if np.isnan(values).all():
                kind, values = "condition", np.asarray(trace.condition, dtype="float64")
            series = pd.Series(values, index=trace.clock)
            series = series[series.index >= pd.Timestamp(HISTORY_START)].dropna()
            step = max(1, math.ceil(len(series) / MAX_POINTS))
            if step > 1:  # thin evenly but keep the newest point
                series = pd.concat([series.iloc[:-1:step], series.iloc[-1:]])
            return {
                "rule": rule_id, "kind": kind,
                "unit": unit_of(ruleset, rule) if kind == "value" else "yes/no",
                "threshold": _num(trace.threshold) if kind == "value" else None,
                "dates": [d.date().isoformat() for d in series.index],
                "values": [round(float(v), 6) for v in series.to_numpy()],
                "periods": self.periods(rule_id),
                "events": self.event_dates(rule_id) if self.insight.one_off(rule_id) else [],
                "data_version": self.version(),
            }

        result: dict[str, Any] = self.cached(("chart", rule_id), compute)
        return result

    def series(self, series_id: str, start: date) -> dict[str, Any] | None:
        """One input series' observations from `start` (None if the rules do not read it)."""
        ruleset, data = self.insight.ruleset, self.insight.data()[1]
        spec = next((i for i in ruleset.inputs if series_id in (i.id, i.name)), None)
        if spec is None:
            return None
        values = data.get(spec.id, pd.Series(dtype="float64")).dropna()
        values = values[values.index >= pd.Timestamp(start)]
        return {
            "id": spec.id, "name": spec.name, "source": spec.source,
            "title": pick_language(spec.spec.title, "en"), "unit": spec.spec.units,
            "dates": [d.date().isoformat() for d in values.index],
            "values": [float(v) for v in values.to_numpy()],
        }

    def freshness(self, as_of: date) -> list[dict[str, Any]]:
        """Per input series: source, newest observation, its age, and whether it is stale."""

        def compute() -> list[dict[str, Any]]:
            ruleset, data = self.insight.ruleset, self.insight.data()[1]
            stale = self.insight.stale_series(as_of)
            out = []
            for item in sorted(ruleset.inputs, key=lambda i: (i.source, i.id)):
                values = data.get(item.id)
                newest = values.dropna().index.max() if values is not None and \
                    not values.dropna().empty else None
                day = newest.date() if newest is not None else None
                out.append({
                    "id": item.id, "name": item.name, "source": item.source,
                    "title": pick_language(item.spec.title, "en") or item.name,
                    "newest": day.isoformat() if day else None,
                    "age_days": (as_of - day).days if day else None,
                    "fresh_window": item.spec.fresh,
                    "stale": stale.get(item.id),
                })
            return out

        result: list[dict[str, Any]] = self.cached(("freshness", as_of), compute)
        return result


def json_safe(value: Any) -> Any:
    """Dates as ISO text and NaN as None, through dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _num(value)
    return value


def parse_day(text: str | None, default: date) -> date:
    """A YYYY-MM-DD query value (ValueError when malformed); `default` when absent."""
    if not text:
        return default
    return date.fromisoformat(text)


def clamp_span(start: date, end: date, every: str) -> None:
    """ValueError for a span too long to answer at this step (a request must stay cheap)."""
    limit = {"day": timedelta(days=366 * 40), "week": timedelta(days=366 * 80),
             "month": timedelta(days=366 * 200)}[every]
    if end < start:
        raise ValueError("'to' is before 'from'")
    if end - start > limit:
        raise ValueError(f"span too long for every={every}")
