"""The `cyclewatch backtest --chart` picture: each rule's deciding value with its transitions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.figure import Figure

from rules import Event, RuleSet, Transition
from rules.engine import Evaluator, trace_rule

MAX_PANELS = 16


def backtest_chart(
    ruleset: RuleSet,
    data: Mapping[str, pd.Series],
    events: list[Event],
    out: Path,
    only: Iterable[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> None:
    """Write a PNG: one panel per rule (value or condition), firing ▲ and resolved ▼ markers."""
    wanted = set(only) if only else None
    rules = [r for r in ruleset.rules if wanted is None or r.id in wanted][:MAX_PANELS]
    ev = Evaluator(ruleset, data)
    figure = Figure(figsize=(11, 1.9 * max(1, len(rules))))
    axes = figure.subplots(max(1, len(rules)), 1, squeeze=False)[:, 0]
    for ax, rule in zip(axes, rules, strict=False):
        trace = trace_rule(ev, rule)
        values = pd.Series(trace.value, index=trace.clock).dropna()
        label = "value"
        if values.empty:
            values, label = pd.Series(trace.condition, index=trace.clock).dropna(), "condition"
        start = pd.Timestamp(since) if since else pd.Timestamp.min
        end = pd.Timestamp(until) if until else pd.Timestamp.max
        values = values[(values.index >= start) & (values.index <= end)]
        ax.set_title(f"{rule.id} ({label})", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if values.empty:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            continue
        ax.plot(values.index, values.to_numpy(), linewidth=0.9)
        if trace.threshold is not None:
            ax.axhline(trace.threshold, color="tab:red", linestyle="--", linewidth=0.8)
        for event in (e for e in events if e.rule_id == rule.id):
            stamp = pd.Timestamp(event.date)
            y = values.asof(stamp) if stamp >= values.index[0] else values.iloc[0]
            firing = event.state == Transition.FIRING
            marker, color = ("^", "tab:green") if firing else ("v", "tab:gray")
            ax.plot([stamp], [y], marker=marker, color=color, markersize=7)
    figure.suptitle("cyclewatch backtest: ▲ firing, ▼ resolved", fontsize=10)
    figure.tight_layout()
    figure.savefig(out, format="png", dpi=90)


def regime_chart(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: pd.Timestamp, out: Path
) -> None:
    """Write the regime dashboard PNG (the same picture the chat /regime command sends)."""
    from bot.chat.charts import regime_dashboard

    out.write_bytes(regime_dashboard(data, as_of.date(), "cli", ruleset))
