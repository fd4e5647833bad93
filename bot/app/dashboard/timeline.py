"""The regime timeline as data for an inline SVG: runs of equal regimes as segments, and the
months with milestone events as markers above them (drawn without any script)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

WIDTH = 1000.0  # the SVG's viewBox width; it stretches to the page


@dataclass(frozen=True)
class Segment:
    """Consecutive history dates with one regime."""

    regime: str
    start: str  # as_of of the first date in the run
    end: str  # as_of of the last date in the run
    x: float
    width: float
    name: str
    months: int


@dataclass(frozen=True)
class Marker:
    """The milestone events of one history step."""

    as_of: str
    x: float
    events: tuple[str, ...]  # "rule title (date)"


def segments(items: list[dict[str, Any]], names: dict[str, str]) -> list[Segment]:
    """Runs of the same regime, each with its share of the band's width."""
    out: list[Segment] = []
    total = len(items) or 1
    start = 0
    for index in range(1, len(items) + 1):
        if index < len(items) and items[index]["regime"] == items[start]["regime"]:
            continue
        regime = items[start]["regime"]
        out.append(Segment(
            regime, items[start]["as_of"], items[index - 1]["as_of"],
            round(start / total * WIDTH, 3), round((index - start) / total * WIDTH, 3),
            names.get(regime, regime), index - start,
        ))
        start = index
    return out


def markers(
    items: list[dict[str, Any]], events: list[dict[str, Any]], titles: dict[str, str]
) -> list[Marker]:
    """One marker per history step in which a milestone started firing."""
    stamps = [item["as_of"] for item in items]
    total = len(items) or 1
    grouped: dict[int, list[str]] = {}
    for event in events:
        if event["state"] != "firing" or event.get("severity") != "milestone":
            continue
        index = bisect.bisect_left(stamps, event["date"])
        if index >= len(stamps) or event["date"] < (stamps[0][:8] + "01" if stamps else ""):
            continue
        title = titles.get(event["rule"], event["rule"])
        grouped.setdefault(index, []).append(f"{title} ({event['date']})")
    return [
        Marker(stamps[i], round((i + 0.5) / total * WIDTH, 3), tuple(found))
        for i, found in sorted(grouped.items())
    ]
