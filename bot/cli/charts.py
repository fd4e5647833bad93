"""The `cyclewatch backtest --chart` picture: each rule's deciding value with its transitions,
and the `cyclewatch regime --chart` dashboard (the one /regime sends)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from bot.chat import chartparts as parts
from bot.chat import chartstyle as cs
from bot.i18n import text
from rules import Event, Rule, RuleSet, Transition
from rules.engine import Evaluator, trace_rule
from rules.model import pick_language
from rules.units import format_value, unit_label

MAX_PANELS = 16


def _held(rule: Rule, events: list[Event], end: pd.Timestamp,
          ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(fired, resolved) of each time the rule held; one still holding runs to `end`."""
    periods, began = [], None
    for event in sorted((e for e in events if e.rule_id == rule.id), key=lambda e: e.date):
        stamp = pd.Timestamp(event.date)
        if event.state == Transition.FIRING:
            began = stamp
        elif began is not None:
            periods.append((began, stamp))
            began = None
    if began is not None and rule.spec.announce_resolved:
        periods.append((began, end))
    return periods


def _panel(ax: Axes, rule: Rule, values: pd.Series, threshold: float | None,
           events: list[Event], lang: str, condition: bool) -> None:
    spec = rule.spec
    heading = parts.wrap(pick_language(spec.title, lang), lang)
    unit = "yes/no" if condition else spec.unit
    # A condition's panel says yes / no on its axis; a value's says what it is, in what unit.
    what, label = ("", "") if condition else (pick_language(spec.value_title, lang),
                                              unit_label(unit, lang))
    what = f"{what} ({label})" if what and label else what or label
    ax.set_title(heading + ("\n" + parts.wrap(what, lang, 58) if what else ""), loc="left",
                 fontsize=cs.SMALL)
    ax.grid(alpha=0.3)
    if values.empty:
        ax.text(0.5, 0.5, text(lang, "chart_no_data"), ha="center", va="center",
                transform=ax.transAxes)
        return
    ax.step(values.index, values.to_numpy(), where="post", color=cs.BLUE, linewidth=1.6)
    if condition:
        ax.set_yticks([0, 1], [format_value(v, "yes/no", lang) for v in (0, 1)])
        ax.set_ylim(-0.15, 1.15)
    else:
        parts.limit_spike(ax, values)
    if threshold is not None:
        ax.axhline(threshold, color=cs.VERMILLION, linestyle="--", linewidth=1.4,
                   label=text(lang, "chart_line", value=format_value(threshold, unit, lang)))
    for left, right in _held(rule, events, values.index[-1]):
        ax.axvspan(parts.x(left), parts.x(right), color=cs.SHADE, alpha=0.25, linewidth=0,
                   gid="held:" + rule.id)
    for event in (e for e in events if e.rule_id == rule.id):
        stamp = pd.Timestamp(event.date)
        at = int(values.index.searchsorted(stamp, side="right")) - 1  # the value then
        y = float(values.iloc[max(at, 0)])
        firing = event.state == Transition.FIRING
        ax.plot([parts.x(stamp)], [y], marker="^" if firing else "v", markersize=10,
                linestyle="none", color=cs.GREEN if firing else cs.GREY, zorder=4)
    if threshold is not None:
        ax.legend(loc="best", frameon=False, handlelength=1.6)


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
    """Write a PNG: one panel per rule (titled with the rule and its deciding value with the
    unit, or its yes/no condition), its line, the periods it held shaded, fired ▲ and resolved
    ▼ markers; every panel over the same dates."""
    wanted = set(only) if only else None
    rules = [r for r in ruleset.rules if wanted is None or r.id in wanted][:MAX_PANELS]
    ev = Evaluator(ruleset, data)
    start = pd.Timestamp(since) if since else pd.Timestamp.min
    end = pd.Timestamp(until) if until else pd.Timestamp.max
    shown: list[tuple[Rule, pd.Series, float | None, bool]] = []
    for rule in rules:
        trace = trace_rule(ev, rule)
        values = pd.Series(trace.value, index=trace.clock).dropna()
        condition = values.empty
        if condition:
            values = pd.Series(trace.condition, index=trace.clock).dropna()
        values = values[(values.index >= start) & (values.index <= end)]
        shown.append((rule, values, trace.threshold, condition))
    dated = [v for _, v, _, _ in shown if not v.empty]
    first = max(start, min((v.index[0] for v in dated), default=start))
    last = min(end, max((v.index[-1] for v in dated), default=end))
    with cs.style(lang):
        fig = cs.figure(1.6 + 2.9 * max(1, len(rules)))
        axes = fig.subplots(max(1, len(rules)), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (rule, values, threshold, condition) in zip(axes, shown, strict=False):
            _panel(ax, rule, values, threshold, events, lang, condition)
        if dated:
            axes[0].set_xlim(parts.x(first), parts.x(last))
            axes[-1].xaxis.set_major_locator(parts.years(pd.Series(0, index=[first, last])))
        key = (f"▲ {text(lang, 'chart_word_fired')}   ▼ {text(lang, 'chart_word_resolved')}   "
               + text(lang, "chart_word_shaded", what=text(lang, "chart_firing")))
        heading = text(lang, "chart_word_backtest",
                       start=first.date().isoformat() if dated else "…",
                       end=last.date().isoformat() if dated else "…")
        fig.suptitle(f"{parts.wrap(heading, lang)}\n{key}", x=0.02, ha="left",
                     fontsize=cs.BODY)
        fig.savefig(out, format="png", dpi=cs.DPI)


def regime_chart(
    ruleset: RuleSet, data: Mapping[str, pd.Series], as_of: pd.Timestamp, out: Path,
    lang: str = "en", regime: str | None = None,
) -> None:
    """Write the regime dashboard PNG (the same picture the chat /regime command sends)."""
    from bot.chat.charts import regime_dashboard

    out.write_bytes(regime_dashboard(data, as_of.date(), "cli", ruleset, lang=lang,
                                     regime=regime))
