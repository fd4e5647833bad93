"""PNG charts for a phone (1280 px wide, see `chartstyle`): the regime dashboard and one chart
per rule, in the chat's language. Both are cached per data version, so a busy chat re-uses the
bytes until new data arrive."""

from __future__ import annotations

import re
import textwrap
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import YearLocator, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import Locator

from bot.chat import chartstyle as cs
from bot.i18n import text
from rules import RuleSet, Transition, backtest
from rules.engine import Evaluator, trace_rule
from rules.model import pick_language
from rules.units import format_value, unit_label

YEARS_SHOWN = 10
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


def _window(values: pd.Series, as_of: date) -> pd.Series:
    end = pd.Timestamp(as_of)
    start = end - pd.DateOffset(years=YEARS_SHOWN)
    return values[(values.index >= start) & (values.index <= end)].dropna()


def _named(name: str, ruleset: RuleSet, ev: Evaluator) -> pd.Series | None:
    """A series or metric of the rules file by name, on its own dates."""
    try:
        found = ev.lookup(name)
    except (KeyError, ValueError):
        return None
    return found if isinstance(found, pd.Series) else None


def _title_of(name: str, ruleset: RuleSet, lang: str) -> str:
    file = ruleset.file
    if name in file.series:
        return pick_language(file.series[name].title, lang) or name
    return pick_language(file.metric_titles.get(name), lang) or name


def _scaled(values: pd.Series, unit: str | None) -> tuple[pd.Series, str | None]:
    """Dollars in the size people say: millions shown as trillions or billions."""
    if unit == "$ mn" and not values.empty:
        top = float(values.abs().max())
        if top >= 1e6:
            return values / 1e6, "$ tn"
        if top >= 1e3:
            return values / 1e3, "$ bn"
    if unit == "$ bn" and not values.empty and float(values.abs().max()) >= 1e3:
        return values / 1e3, "$ tn"
    return values, unit


def _wrap(title: str, lang: str) -> str:
    return "\n".join(textwrap.wrap(title, 24 if lang == "zh" else 46)) or title


def _sources(ruleset: RuleSet, names: set[str]) -> str:
    series = ruleset.file.series
    found = sorted({f"{series[n].source.upper()} {series[n].id}" for n in names if n in series})
    return ", ".join(found[:3]) + (" …" if len(found) > 3 else "")


def _footer(fig: Figure, lang: str, as_of: date, sources: str) -> None:
    line = text(lang, "chart_footer", as_of=as_of.isoformat(), sources=sources)
    fig.supxlabel("\n".join(textwrap.wrap(line, 44 if lang == "zh" else 58)), x=0.02,
                  ha="left", fontsize=cs.SMALL, color=cs.GREY)


def _plot(ax: Axes, shown: pd.Series, unit: str | None, title: str, lang: str) -> None:
    label = unit_label(unit, lang)
    ax.set_title(_wrap(f"{title} ({label})" if label else title, lang), loc="left",
                 fontsize=cs.BODY)
    ax.grid(alpha=0.3)
    if shown.empty:
        ax.text(0.5, 0.5, text(lang, "chart_no_data"), ha="center", va="center",
                transform=ax.transAxes)
        return
    ax.plot(shown.index, shown.to_numpy(), color=cs.BLUE, linewidth=2.2)
    last = float(shown.iloc[-1])
    ax.annotate(format_value(last, unit, lang), (shown.index[-1], last), xytext=(-10, 12),
                textcoords="offset points", ha="right", fontsize=cs.SMALL, color=cs.BLUE,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 2})
    low, high = shown.quantile(0.03), shown.quantile(0.97)
    if float(shown.max()) > high + 3 * (high - low):  # one spike (2020) must not flatten years
        bottom = float(shown.min())
        ax.set_ylim(float(bottom - 0.1 * (high - bottom)), float(high + 0.6 * (high - low)))
    ax.xaxis.set_major_locator(_years(shown))


def _years(shown: pd.Series) -> Locator:
    span = (shown.index[-1] - shown.index[0]).days / 365.25 if len(shown) > 1 else 1
    return YearLocator(max(1, round(span / 4)))  # type: ignore[no-untyped-call]


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


def _x(stamp: pd.Timestamp) -> float:
    return float(date2num(stamp.to_pydatetime()))  # type: ignore[no-untyped-call]


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
        ev = Evaluator(ruleset, data, pd.Timestamp(as_of))
        trace = trace_rule(ev, rule)
        decided = _window(pd.Series(trace.value, index=trace.clock), as_of)
        name = spec.chart or spec.on
        person = _named(name, ruleset, ev) if name else None
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
                shown, unit = _scaled(_window(person, as_of), ruleset.file.unit_of(name))
                _plot(axes[0], shown, unit, _title_of(name, ruleset, lang), lang)
                ax_index = 1
            if not decided.empty:
                ax = axes[ax_index]
                title = pick_language(spec.value_title, lang) or pick_language(spec.title, lang)
                _plot(ax, decided, spec.unit, text(lang, "chart_value", title=title)
                      if ax_index else title, lang)
                if trace.threshold is not None:
                    ax.axhline(trace.threshold, color=cs.VERMILLION, linestyle="--",
                               linewidth=1.6, label=text(lang, "chart_line", value=format_value(
                                   trace.threshold, spec.unit, lang)))
            for i, ax in enumerate(axes):
                _decorate(ax, periods, starts, mark, start, lang, label=i == 0)
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(loc="upper left", frameon=False)
            fig.suptitle(_wrap(pick_language(spec.title, lang), lang), x=0.02, ha="left",
                         fontsize=cs.TITLE, )
            _footer(fig, lang, as_of, _sources(ruleset, set(rule.inputs)))
            return cs.png(fig)

    if rule_id not in {r.id for r in ruleset.rules}:
        return None
    # Keyed by the rule's definition too: a reloaded rules file redraws its charts.
    definition = ruleset.rule(rule_id).definition_hash
    return _cached(("rule", version, rule_id, definition, as_of, lang), draw)


def regime_dashboard(
    data: Mapping[str, pd.Series], as_of: date, version: str, ruleset: RuleSet | None = None,
    lang: str = "en", regime: str | None = None,
) -> bytes:
    """Six panels, one under the other (balance sheet, reserves, policy rate, real 10y, bill
    share, bubble gauges), titled with the regime."""

    def draw() -> bytes:
        ev = Evaluator(ruleset, data, pd.Timestamp(as_of)) if ruleset is not None else None
        with cs.style(lang):
            fig = cs.figure(11.5)
            axes = fig.subplots(len(DASHBOARD), 1, sharex=True)
            for ax, name in zip(axes, DASHBOARD, strict=True):
                found = _named(name, ruleset, ev) if ruleset and ev else data.get(name)
                unit = ruleset.file.unit_of(name) if ruleset else None
                shown, unit = _scaled(_window(found, as_of) if found is not None
                                      else pd.Series(dtype=float), unit)
                title = _title_of(name, ruleset, lang) if ruleset else name
                _plot(ax, shown, unit, title, lang)
            heading = text(lang, "chart_dashboard", regime=regime or "cyclewatch",
                           as_of=as_of.isoformat())
            fig.suptitle(_wrap(heading, lang), x=0.02, ha="left", fontsize=cs.TITLE,
                         )
            names = set(DASHBOARD) & set(ruleset.file.series) if ruleset else set()
            _footer(fig, lang, as_of, _sources(ruleset, names) if ruleset else "FRED")
            return cs.png(fig)

    rules_key = tuple(r.definition_hash for r in ruleset.rules) if ruleset else ()
    return _cached(("dashboard", version, as_of, rules_key, lang, regime), draw)


def is_png(payload: bytes) -> bool:
    """Whether `payload` starts with the PNG signature."""
    return payload[:8] == b"\x89PNG\r\n\x1a\n"


__all__ = ["Figure", "is_png", "regime_dashboard", "rule_chart"]
