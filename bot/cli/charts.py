"""The `cyclewatch backtest --chart` picture: each rule's deciding value with its transitions."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

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
    lang: str = "en",
) -> None:
    """Write a PNG: one panel per rule (its deciding value with unit, or its condition), the
    line, the periods it held shaded, firing ▲ and resolved ▼ markers."""
    from bot.chat import chartstyle as cs
    from rules.model import pick_language
    from rules.units import unit_label

    wanted = set(only) if only else None
    rules = [r for r in ruleset.rules if wanted is None or r.id in wanted][:MAX_PANELS]
    ev = Evaluator(ruleset, data)
    with cs.style(lang):
        figure = cs.figure(1.0 + 2.6 * max(1, len(rules)))
        axes = figure.subplots(max(1, len(rules)), 1, squeeze=False)[:, 0]
        for ax, rule in zip(axes, rules, strict=False):
            trace = trace_rule(ev, rule)
            spec = rule.spec
            values = pd.Series(trace.value, index=trace.clock).dropna()
            title = pick_language(spec.value_title, lang) or pick_language(spec.title, lang)
            unit = unit_label(spec.unit, lang)
            if values.empty:
                values = pd.Series(trace.condition, index=trace.clock).dropna()
                title, unit = pick_language(spec.title, lang), "1 = holds"
            start = pd.Timestamp(since) if since else pd.Timestamp.min
            end = pd.Timestamp(until) if until else pd.Timestamp.max
            values = values[(values.index >= start) & (values.index <= end)]
            heading = textwrap.shorten(pick_language(spec.title, lang), 60)
            ax.set_title(f"{heading}\n{textwrap.shorten(title, 48)}"
                         + (f" ({unit})" if unit else ""), loc="left", fontsize=cs.SMALL)
            ax.grid(alpha=0.3)
            if values.empty:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
                continue
            ax.plot(values.index, values.to_numpy(), color=cs.BLUE, linewidth=1.4)
            if trace.threshold is not None:
                ax.axhline(trace.threshold, color=cs.VERMILLION, linestyle="--", linewidth=1.2)
            mine = sorted((e for e in events if e.rule_id == rule.id), key=lambda e: e.date)
            began: pd.Timestamp | None = None
            for event in mine:
                stamp = pd.Timestamp(event.date)
                y = values.asof(stamp) if stamp >= values.index[0] else values.iloc[0]
                firing = event.state == Transition.FIRING
                marker, color = ("^", cs.GREEN) if firing else ("v", cs.GREY)
                ax.plot([stamp], [y], marker=marker, color=color, markersize=9)
                if firing:
                    began = stamp
                elif began is not None:
                    ax.axvspan(began, stamp, color=cs.SHADE, alpha=0.25, linewidth=0)
                    began = None
            if began is not None and spec.announce_resolved:
                ax.axvspan(began, values.index[-1], color=cs.SHADE, alpha=0.25, linewidth=0)
        figure.suptitle("cyclewatch backtest\n▲ fired  ▼ resolved  shaded: held", x=0.02,
                        ha="left", fontsize=cs.TITLE)
        figure.savefig(out, format="png", dpi=cs.DPI)


def regime_chart(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: pd.Timestamp, out: Path
) -> None:
    """Write the regime dashboard PNG (the same picture the chat /regime command sends)."""
    from bot.chat.charts import regime_dashboard

    out.write_bytes(regime_dashboard(data, as_of.date(), "cli", ruleset))
