"""PNG charts for a phone (1280 px wide, see `chartstyle`): the regime dashboard and one chart
per rule, in the chat's language. Both are cached per data version, so a busy chat re-uses the
bytes until new data arrive."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.chat import chartstyle as cs
from bot.chat import regimebands as bands
from bot.chat.chartparts import (
    YEARS_SHOWN,
    footer,
    inputs_of,
    named,
    plot,
    scaled,
    sources,
    window,
    wrap,
)
from bot.chat.chartparts import title_of as _title_of
from bot.chat.chartparts import x as _x
from bot.i18n import text
from rules import RuleSet, Transition, backtest
from rules.engine import Evaluator, shared_evaluator, trace_rule
from rules.model import pick_language

_BARE = re.compile(r"^\s*[a-z][a-z0-9_]*\s*$")
# What the dashboard shows: series ids or metric names of the default rules.
DASHBOARD = ("total_assets", "reserves", "policy_rate", "real_10y", "bill_share",
             "bubble_gauges")
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


def _firing_periods(
    ruleset: RuleSet, data: Mapping[str, pd.Series], rule_id: str, as_of: date
) -> tuple[list[tuple[pd.Timestamp, pd.Timestamp]], list[pd.Timestamp]]:
    """(start, end) of each time the rule held, and the dates it fired, up to `as_of`."""
    periods, starts, began = [], [], None
    for event in backtest(ruleset, dict(data), until=as_of, only=[rule_id]):
        stamp = pd.Timestamp(event.date)
        if event.state == Transition.FIRING:
            starts.append(stamp)
            began = stamp
        elif began is not None:
            periods.append((began, stamp))
            began = None
    if began is not None and ruleset.rule(rule_id).spec.announce_resolved:
        periods.append((began, pd.Timestamp(as_of)))
    return periods, starts


def _same(value: str | None, name: str, ruleset: RuleSet) -> bool:
    """Whether the rule's value is the charted series itself, or what its metric is made of."""
    if value is None or not _BARE.match(value):
        return False
    value = value.strip()
    return value == name or value in re.findall(r"[a-z_][a-z0-9_]*",
                                                ruleset.file.metrics.get(name, ""))


def _decorate(ax: Axes, periods: list[tuple[pd.Timestamp, pd.Timestamp]],
              starts: list[pd.Timestamp], mark: pd.Timestamp, start: pd.Timestamp,
              lang: str, label: bool) -> None:
    for first, (left, right) in enumerate(p for p in periods if p[1] >= start):
        ax.axvspan(_x(max(left, start)), _x(right), color=cs.SHADE, alpha=0.22, linewidth=0,
                   label=text(lang, "chart_firing") if label and first == 0 else None)
    for stamp in starts:
        if stamp >= start and stamp != mark:
            ax.axvline(_x(stamp), color=cs.ORANGE, linewidth=1.2, alpha=0.8)
    ax.axvline(_x(mark), color=cs.VERMILLION, linewidth=2.0)
    if label:
        ax.annotate(text(lang, "chart_event", date=mark.date().isoformat()), (mark, 0.0),
                    xycoords=("data", "axes fraction"), xytext=(-8, 8),
                    textcoords="offset points", ha="right", va="bottom", fontsize=cs.SMALL,
                    color=cs.VERMILLION,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 2})


def rule_chart(
    data: Mapping[str, pd.Series], ruleset: RuleSet, rule_id: str, as_of: date, version: str,
    lang: str = "en",
) -> bytes | None:
    """The series a person thinks in for the rule (its `chart:`, else its clock), with the
    periods it held shaded and this date marked; below it, the deciding value and its line."""

    def draw() -> bytes:
        rule = ruleset.rule(rule_id)
        spec = rule.spec
        ev = shared_evaluator(ruleset, data, pd.Timestamp(as_of))
        trace = trace_rule(ev, rule)
        decided = window(pd.Series(trace.value, index=trace.clock), as_of)
        name = spec.chart or spec.on
        person = named(name, ev) if name else None
        if person is not None and name is not None and _same(spec.value, name, ruleset):
            decided = decided.iloc[0:0]  # the chart already shows the value: one panel
        periods, starts = _firing_periods(ruleset, data, rule_id, as_of)
        mark = pd.Timestamp(as_of)
        with cs.style(lang):
            panels = [p for p in (person, decided if not decided.empty else None)
                      if p is not None]
            fig = cs.figure(6.2 if len(panels) == 2 else 4.2)
            axes = fig.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False,
                                height_ratios=[3, 2][: max(1, len(panels))])[:, 0]
            start = mark - pd.DateOffset(years=YEARS_SHOWN)
            ax_index = 0
            if person is not None and name is not None:
                shown, unit = scaled(window(person, as_of), ruleset.file.unit_of(name))
                plot(axes[0], shown, unit, _title_of(name, ruleset, lang), lang)
                ax_index = 1
            if not decided.empty:
                title = pick_language(spec.value_title, lang) or pick_language(spec.title, lang)
                plot(axes[ax_index], decided, spec.unit, text(lang, "chart_value", title=title)
                     if ax_index else title, lang, threshold=trace.threshold, line_in_title=True)
            for i, ax in enumerate(axes):
                _decorate(ax, periods, starts, mark, start, lang, label=i == 0)
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(loc="upper left", frameon=False)
            fig.suptitle(wrap(pick_language(spec.title, lang), lang), x=0.02, ha="left",
                         fontsize=cs.TITLE)
            footer(fig, lang, as_of, sources(ruleset, sorted(rule.inputs)))
            return cs.png(fig)

    if rule_id not in {r.id for r in ruleset.rules}:
        return None
    # Keyed by the rule's definition too: a reloaded rules file redraws its charts.
    definition = ruleset.rule(rule_id).definition_hash
    return _cached(("rule", version, rule_id, definition, as_of, lang), draw)


def _panel_line(ruleset: RuleSet, name: str) -> float | None:
    """The threshold of a rule whose value is the panel's series itself (bills share 20 %)."""
    for rule in ruleset.rules:
        spec = rule.spec
        if spec.threshold is not None and spec.value is not None and spec.value.strip() == name:
            return spec.threshold
    return None


def _dashboard_panels(axes: list[Axes], data: Mapping[str, pd.Series], as_of: date,
                      ruleset: RuleSet | None, ev: Evaluator | None, lang: str) -> None:
    for ax, name in zip(axes, DASHBOARD, strict=True):
        found = named(name, ev) if ruleset and ev else data.get(name)
        unit = ruleset.file.unit_of(name) if ruleset else None
        shown, shown_unit = scaled(window(found, as_of) if found is not None
                                   else pd.Series(dtype=float), unit)
        line = _panel_line(ruleset, name) if ruleset and shown_unit == unit else None
        plot(ax, shown, shown_unit, _title_of(name, ruleset, lang) if ruleset else name, lang,
             color=cs.INK, threshold=line, line_in_title=True)


def dashboard_figure(
    data: Mapping[str, pd.Series], as_of: date, ruleset: RuleSet | None = None,
    lang: str = "en", regime: str | None = None,
) -> Figure:
    """The dashboard drawn (call it inside `chartstyle.style(lang)`): six panels over ten
    years, the regime of each period shaded behind them with its legend, titled with the
    regime (`regime`, else the one in force on `as_of`), and the source footer."""
    ev = shared_evaluator(ruleset, data, pd.Timestamp(as_of)) if ruleset is not None else None
    end = pd.Timestamp(as_of)
    start = end - pd.DateOffset(years=YEARS_SHOWN)
    runs = bands.regime_runs(ruleset, ev, start, end) if ruleset and ev else []
    now = bands.regime_at(runs)
    name = regime or (bands.regime_label(now, ruleset, lang) if now else "cyclewatch")
    fig = cs.figure(12.5 if runs else 11.5)
    key, *axes = fig.subplots(len(DASHBOARD) + 1, 1, height_ratios=[0.01] + [1] * 6)
    for ax in axes[:-1]:
        ax.sharex(axes[-1])
        ax.tick_params(labelbottom=False)
    _dashboard_panels(axes, data, as_of, ruleset, ev, lang)
    key.axis("off")
    if ruleset is not None and runs:
        bands.shade(axes, runs, ruleset)
        bands.legend(key, runs, ruleset, lang)
        axes[0].set_xlim(_x(start), _x(end))
    heading = text(lang, "chart_dashboard", regime=name, as_of=as_of.isoformat())
    fig.suptitle(wrap(heading, lang), x=0.02, ha="left", fontsize=cs.TITLE)
    names = [n for name in DASHBOARD for n in inputs_of(ruleset, name)] if ruleset else []
    footer(fig, lang, as_of, sources(ruleset, names) if ruleset else "FRED")
    return fig


def regime_dashboard(
    data: Mapping[str, pd.Series], as_of: date, version: str, ruleset: RuleSet | None = None,
    lang: str = "en", regime: str | None = None,
) -> bytes:
    """The dashboard PNG (see `dashboard_figure`), cached per data version."""

    def draw() -> bytes:
        with cs.style(lang):
            return cs.png(dashboard_figure(data, as_of, ruleset, lang, regime))

    rules_key = tuple(r.definition_hash for r in ruleset.rules) if ruleset else ()
    return _cached(("dashboard", version, as_of, rules_key, lang, regime), draw)


def is_png(payload: bytes) -> bool:
    """Whether `payload` starts with the PNG signature."""
    return payload[:8] == b"\x89PNG\r\n\x1a\n"


__all__ = ["Figure", "dashboard_figure", "is_png", "regime_dashboard", "rule_chart"]
