"""The regime over a chart's span: its runs from the project's one vectorized classification
(rules.regime_frame, what /regime and `cyclewatch regime --from` use), shaded one colour each
behind every panel, with a legend of the regimes shown."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import blended_transform_factory

from bot.chat import chartstyle as cs
from bot.chat.chartparts import x
from bot.i18n import text
from rules import UNDETERMINED, RuleSet
from rules.engine import Evaluator
from rules.model import pick_language
from rules.regime_frame import regime_frame

GID = "regime:"  # each band's gid is GID + the regime id


@dataclass(frozen=True)
class Run:
    """One regime from `start` until `end` (the next regime's start, or the span's end)."""

    regime: str
    start: pd.Timestamp
    end: pd.Timestamp


def regime_runs(ruleset: RuleSet, ev: Evaluator, start: pd.Timestamp,
                end: pd.Timestamp) -> list[Run]:
    """The regime in force over [start, end], as known at the evaluator's date."""
    if not ruleset.gauges:
        return []
    frame = regime_frame(ruleset, ev)
    at_start = int(frame.positions(pd.DatetimeIndex([start]))[0])
    inside = (frame.grid > start) & (frame.grid <= end)
    points = [(start, str(frame.regime[at_start]))] if at_start >= 0 else []
    points += [(stamp, str(regime)) for stamp, regime
               in zip(frame.grid[inside], frame.regime[inside], strict=True)]
    runs: list[Run] = []
    for stamp, regime in points:
        if runs and runs[-1].regime == regime:
            continue
        if runs:
            runs[-1] = Run(runs[-1].regime, runs[-1].start, stamp)
        runs.append(Run(regime, stamp, end))
    return runs


def regime_at(runs: list[Run]) -> str | None:
    """The regime of the span's last day."""
    return runs[-1].regime if runs else None


def regime_label(regime_id: str, ruleset: RuleSet | None, lang: str) -> str:
    """The regime's name as the chat says it, capitalised (its rules.yaml title otherwise)."""
    try:
        name = text(lang, f"regime_names_{regime_id}")
    except KeyError:
        choices = ruleset.file.regimes.choose if ruleset and ruleset.file.regimes else []
        titles = {c.id: pick_language(c.title, lang) for c in choices if c.title}
        name = titles.get(regime_id) or regime_id.replace("_", " ")
    return name[:1].upper() + name[1:]


def _order(runs: list[Run], ruleset: RuleSet) -> list[str]:
    """The regimes shown, in the order of the rules file's `choose:` list."""
    listed = [rid for rid, _ in ruleset.choices] + [ruleset.default_regime, UNDETERMINED]
    shown = {run.regime for run in runs}
    return sorted(shown, key=lambda r: (listed.index(r) if r in listed else len(listed), r))


def _patch_style(regime_id: str, order: int) -> dict[str, object]:
    color = cs.regime_color(regime_id, order)
    if color == "none":  # undetermined: hatched, never a colour that reads as a claim
        return {"facecolor": "none", "edgecolor": cs.GREY, "hatch": "//", "alpha": 0.6}
    return {"facecolor": color, "edgecolor": "none", "alpha": cs.REGIME_ALPHA}


def shade(axes: list[Axes], runs: list[Run], ruleset: RuleSet) -> None:
    """A band per run behind the lines of every panel, with gid `regime:<id>`."""
    order = {rid: i for i, rid in enumerate(_order(runs, ruleset))}
    for ax in axes:
        for run in runs:
            # What axvspan draws, without its update of the data limits (the x limits are
            # set to the span; a band's height is the axes').
            left = x(run.start)
            band = Rectangle((left, 0.0), x(run.end) - left, 1.0, linewidth=0, zorder=0,
                             transform=ax.get_xaxis_transform(which="grid"),
                             gid=GID + run.regime,
                             **_patch_style(run.regime, order[run.regime]))  # type: ignore[arg-type]
            band.set_in_layout(False)  # inside the axes: nothing for the layout to measure
            ax.add_artist(band)


def legend(key: Axes, runs: list[Run], ruleset: RuleSet, lang: str) -> None:
    """The regimes shown, in two columns, in `key` (an empty strip above the panels: the
    layout makes room for its legend, which a figure legend would put over the title)."""
    width = 11 if lang == "zh" else 24  # about 500 px, half the figure's width
    handles, labels = [], []
    for i, rid in enumerate(_order(runs, ruleset)):
        style = _patch_style(rid, i)
        if style["facecolor"] == "#FFFFFF":
            style = {**style, "edgecolor": cs.GREY, "alpha": 1.0}
        handles.append(Patch(linewidth=1, **style))  # type: ignore[arg-type]
        name = regime_label(rid, ruleset, lang)
        labels.append(name if len(name) <= width else _two_lines(name, width, lang))
    if handles:
        # From the figure's left edge (not the axes'), so two columns fit in 1280 px.
        where = blended_transform_factory(key.figure.transFigure, key.transAxes)
        key.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.01, 0.0),
                   bbox_transform=where, ncols=2,
                   frameon=False, title=text(lang, "chart_word_regime"), alignment="left",
                   fontsize=cs.SMALL, title_fontsize=cs.SMALL, handlelength=1.6,
                   columnspacing=1.2, borderaxespad=0.0)


def _two_lines(name: str, width: int, lang: str) -> str:
    if lang == "zh":
        return name[:width] + "\n" + name[width:]
    cut = name.rfind(" ", 0, width + 1)
    return name if cut <= 0 else name[:cut] + "\n" + name[cut + 1:]
