"""Prometheus metrics of the running bot, on a registry of its own (served at /metrics)."""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.config import package_version

# Fetches take seconds, sends a fraction of one; an evaluation over decades of data a few.
_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


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
        # Exported as cyclewatch_build_info{version="...",python="..."} 1.
        Info("cyclewatch_build", "The running cyclewatch release.", registry=r).info(
            {"version": package_version(), "python": platform.python_version()}
        )

    def render(self) -> bytes:
        """The exposition text for a scrape."""
        return generate_latest(self.registry)
