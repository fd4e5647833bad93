"""Prometheus metrics of the running bot, on a registry of its own (served at /metrics)."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from bot.config import package_version

# The `_created` series double every counter and histogram and nobody graphs them; the flag is
# global and read when a metric is built, so it is set here, before any Metrics exists.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Fetches take seconds, sends a fraction of one; an evaluation over decades of data a few.
_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The values of cyclewatch_rule_state{state}: a rule's state machine, or skipped this run.
RULE_STATES = ("inactive", "pending", "firing", "skipped")
SeriesDates = Callable[[], Iterable[tuple[str, date | None]]]


class _SeriesAge(Collector):
    """cyclewatch_series_age_days{series}, read from the store at each scrape."""

    def __init__(self, newest: SeriesDates, today: Callable[[], date]) -> None:
        self.newest = newest
        self.today = today

    def collect(self) -> Iterator[Metric]:
        """Days since each series' newest observation."""
        family = GaugeMetricFamily("cyclewatch_series_age_days",
                                   "Days since the newest observation of a series.",
                                   labels=["series"])
        today = self.today()
        for series, newest in self.newest():
            if newest is not None:
                family.add_metric([series], float((today - newest).days))
        yield family


class Metrics:
    """Every counter, gauge and histogram the service exports, on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.fetches = Counter(
            "cyclewatch_fetches", "Series fetch attempts by source and outcome.",
            ["source", "outcome"], registry=r,
        )
        self.fetch_failures = Counter(
            "cyclewatch_fetch_failures", "Failed polls of a source (any series).",
            ["source"], registry=r,
        )
        self.fetch_seconds = Histogram(
            "cyclewatch_fetch_seconds", "Time to poll one source.", ["source"],
            buckets=_SECONDS, registry=r,
        )
        self.evaluations = Counter(
            "cyclewatch_evaluations", "Rule evaluations by outcome.", ["outcome"], registry=r
        )
        self.evaluation_seconds = Histogram(
            "cyclewatch_evaluation_seconds", "Time to evaluate every rule once.",
            buckets=_SECONDS, registry=r,
        )
        self.events = Counter(
            "cyclewatch_events", "Rule transitions recorded, by state.", ["state"], registry=r
        )
        self.deliveries = Counter(
            "cyclewatch_deliveries", "Outbox delivery attempts by platform and outcome.",
            ["platform", "outcome"], registry=r,
        )
        self.delivery_retries = Counter(
            "cyclewatch_delivery_retries", "Deliveries put back for another attempt.",
            ["platform"], registry=r,
        )
        self.delivery_seconds = Histogram(
            "cyclewatch_delivery_seconds", "Time to drain one batch of the outbox.",
            buckets=_SECONDS, registry=r,
        )
        self.outbox_depth = Gauge(
            "cyclewatch_outbox_depth", "Deliveries waiting in the outbox.", registry=r
        )
        self.source_age = Gauge(
            "cyclewatch_source_age_seconds", "Seconds since a source last answered.",
            ["source"], registry=r,
        )
        self.leader = Gauge(
            "cyclewatch_leader", "1 when this process schedules and evaluates.", registry=r
        )
        self.rules_loaded = Gauge(
            "cyclewatch_rules_loaded", "Rules in the running rule set.", registry=r
        )
        self.reloads = Counter(
            "cyclewatch_rule_reloads", "Rule file reloads by outcome.", ["outcome"], registry=r
        )
        self.http_connections_cut = Counter(
            "cyclewatch_http_connections_cut",
            "HTTP connections closed by the server: timeout, evicted or refused at the cap.",
            ["reason"], registry=r,
        )
        self.chat_updates_skipped = Counter(
            "cyclewatch_chat_updates_skipped",
            "Chat updates the client library could not read, skipped and acknowledged.",
            ["platform"], registry=r,
        )
        self.chat_rate_limited = Counter(
            "cyclewatch_chat_rate_limited", "Chat commands dropped by the per-user rate limit.",
            ["platform"], registry=r,
        )
        self.rule_failures = Counter(
            "cyclewatch_rule_failures", "Evaluations in which one rule failed and was skipped.",
            ["rule"], registry=r,
        )
        self.storage_retries = Counter(
            "cyclewatch_storage_retries", "Database operations retried after a transient fault.",
            registry=r,
        )
        self.held_values = Gauge(
            "cyclewatch_held_values", "Implausible observations held back until confirmed.",
            registry=r,
        )
        self.rule_state = Gauge(
            "cyclewatch_rule_state", "1 for the state each rule is in after the last "
            "evaluation (skipped: not evaluated, its state kept), 0 for the others.",
            ["rule", "state"], registry=r,
        )
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory...
        # Exported as cyclewatch_build_info{version="...",python="..."} 1.
        Info("cyclewatch_build", "The running cyclewatch release.", registry=r).info(
            {"version": package_version(), "python": platform.python_version()}
        )

    def set_rule_states(self, states: Mapping[str, str], skipped: Iterable[str]) -> None:
        """One rule-state series per rule and state; rules gone since a reload disappear."""
        skipped = set(skipped)
        self.rule_state.clear()
        for rule in sorted(set(states) | skipped):
            current = "skipped" if rule in skipped else states.get(rule, "inactive")
            for state in RULE_STATES:
                self.rule_state.labels(rule, state).set(int(state == current))

    def watch_series(self, newest: SeriesDates, today: Callable[[], date]) -> None:
        """Export each series' age in days, from `newest()` (series, last date) at scrape."""
        self.registry.register(_SeriesAge(newest, today))

    def render(self) -> bytes:
        """The exposition text for a scrape."""
        return generate_latest(self.registry)
