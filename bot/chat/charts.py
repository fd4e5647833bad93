"""PNG charts (matplotlib, Agg, no display): the regime dashboard and one chart per rule.

Both are cached per data version, so a busy chat re-uses the bytes until new data arrive.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rules import RuleSet, Transition, backtest
from rules.engine import Evaluator, trace_rule

YEARS_SHOWN = 10
# (series id or metric name, panel title, divisor for display)
DASHBOARD = (
    ("WALCL", "Fed total assets ($ tn)", 1e6),
    ("WRESBAL", "Reserve balances ($ tn)", 1e6),
    ("DFEDTARU", "Fed funds target, upper (%)", 1.0),
    ("DFII10", "10y real yield, TIPS (%)", 1.0),
    ("bill_share", "Bills share of marketable debt (%)", 1.0),
    ("bubble_gauges", "Bubble gauges on (count)", 1.0),
)
_CACHE_SIZE = 64
_cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
_lock = threading.Lock()


def _cached(key: tuple[object, ...], draw: Callable[[], bytes]) -> bytes:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    png = draw()
    with _lock:
        _cache[key] = png
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return png


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _window(values: pd.Series, as_of: date) -> pd.Series:
    end = pd.Timestamp(as_of)
    start = end - pd.DateOffset(years=YEARS_SHOWN)
    return values[(values.index >= start) & (values.index <= end)].dropna()


def _series_for(
    name: str, data: Mapping[str, pd.Series], ev: Evaluator | None
) -> pd.Series | None:
    if name in data:
        return data[name]
    if ev is None:
        return None
    try:
        found = ev.lookup(name)
    except (KeyError, ValueError):
        return None
    return found if isinstance(found, pd.Series) else None


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def regime_dashboard(
    data: Mapping[str, pd.Series], as_of: date, version: str, ruleset: RuleSet | None = None
) -> bytes:
    """Six panels (balance sheet, reserves, policy rate, real 10y, bill share, bubble gauges)."""

    def draw() -> bytes:
        ev = Evaluator(ruleset, data, pd.Timestamp(as_of)) if ruleset is not None else None
        figure = Figure(figsize=(10, 7))
        axes = figure.subplots(3, 2)
        for ax, (name, title, scale) in zip(axes.flat, DASHBOARD, strict=True):
            _style(ax, title)
            found = _series_for(name, data, ev)
            shown = _window(found, as_of) / scale if found is not None else pd.Series()
            if shown.empty:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
                continue
            ax.plot(shown.index, shown.to_numpy(), linewidth=1.1)
            ax.annotate(f"{shown.iloc[-1]:,.2f}", (shown.index[-1], shown.iloc[-1]), fontsize=7)
        figure.suptitle(f"cyclewatch regime dashboard, as of {as_of.isoformat()}", fontsize=11)
        figure.tight_layout()
        return _png(figure)

    rules_key = tuple(r.definition_hash for r in ruleset.rules) if ruleset else ()
    return _cached(("dashboard", version, as_of, rules_key), draw)


def rule_chart(
    data: Mapping[str, pd.Series], ruleset: RuleSet, rule_id: str, as_of: date, version: str
) -> bytes | None:
    """The rule's deciding value over time, its threshold, and where it started firing."""

    def draw() -> bytes:
        rule = ruleset.rule(rule_id)
        ev = Evaluator(ruleset, data, pd.Timestamp(as_of))
        trace = trace_rule(ev, rule)
        values = pd.Series(trace.value, index=trace.clock)
        shown = _window(values, as_of)
        figure = Figure(figsize=(8, 3.6))
        ax = figure.subplots()
        _style(ax, f"{rule_id}: deciding value")
        if not shown.empty:
            ax.plot(shown.index, shown.to_numpy(), linewidth=1.2, label="value")
        else:
            condition = pd.Series(trace.condition, index=trace.clock)
            shown = _window(condition, as_of)
            ax.step(shown.index, shown.to_numpy(), where="post", label="condition (1 = met)")
        if trace.threshold is not None:
            ax.axhline(trace.threshold, color="tab:red", linestyle="--", linewidth=1,
                       label=f"threshold {trace.threshold:g}")
        start = shown.index.min() if not shown.empty else pd.Timestamp(as_of)
        fired = [
            e for e in backtest(ruleset, data, until=as_of, only=[rule_id])
            if e.state == Transition.FIRING and pd.Timestamp(e.date) >= start
        ]
        for event in fired:
            when = pd.Timestamp(event.date)
            ax.plot(pd.DatetimeIndex([when, when]), [0, 1], transform=ax.get_xaxis_transform(),
                    color="tab:orange", alpha=0.6, linewidth=1)
        if fired:
            ax.plot([], [], color="tab:orange", label="started firing")
        ax.legend(fontsize=7, loc="best")
        figure.tight_layout()
        return _png(figure)

    if rule_id not in {r.id for r in ruleset.rules}:
        return None
    # Keyed by the rule's definition too: a reloaded rules file redraws its charts.
    definition = ruleset.rule(rule_id).definition_hash
    return _cached(("rule", version, rule_id, definition, as_of), draw)


def is_png(payload: bytes) -> bool:
    """Whether `payload` starts with the PNG signature."""
    return payload[:8] == b"\x89PNG\r\n\x1a\n"
