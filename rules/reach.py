"""How far back in history an expression reads: what a windowed evaluation must keep.

Windows nest (a 4-week change of a 10-year percentile reads 10 years and 4 weeks back), so a
reach adds up along each path from an expression to a name and the widest path counts. A
streak (`rises`, `falls`) or an all-time high reads all history: its reach is unbounded.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from rules.model import duration_days

UNBOUNDED_CALLS = frozenset({"rises", "falls"})
# `settled` reads all history, but the value it has settled on is found again in any stretch
# in which some value held for its whole window: a windowed evaluation gives it this much more
# than its window to find that, and checks it did (`rules.functions.settled`).
CARRIED_CALLS = frozenset({"settled"})
SETTLE_DAYS = 732.0
PERIOD_CALLS = {"yoy": 366.0}
ONE_BACK_CALLS = frozenset({"crosses_above", "crosses_below"})


@dataclass(frozen=True)
class Reach:
    """A look-back: observations and days (both may apply), or all history."""

    obs: int = 0
    days: float = 0.0
    unbounded: bool = False

    def then(self, other: Reach) -> Reach:
        """This reach followed by `other` (a window of a window)."""
        return Reach(self.obs + other.obs, self.days + other.days,
                     self.unbounded or other.unbounded)

    def widest(self, other: Reach) -> Reach:
        """The wider of two reaches, in each dimension."""
        return Reach(max(self.obs, other.obs), max(self.days, other.days),
                     self.unbounded or other.unbounded)


NONE = Reach()
ALL = Reach(unbounded=True)


def _window(node: ast.expr | None) -> Reach:
    if node is None:
        return ALL  # pct_from_high(x) without a window: the all-time high
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, bool) or value is None:
        return NONE
    if isinstance(value, int):
        return Reach(obs=value)
    if isinstance(value, str):
        try:
            return Reach(days=float(duration_days(value)))
        except ValueError:  # refused by the compiler with its position
            return NONE
    return NONE


def _own(node: ast.Call) -> tuple[Reach, list[ast.expr]]:
    """The call's own look-back and the arguments that are expressions."""
    if isinstance(node.func, ast.Attribute):  # x.shift(n)
        return _window(node.args[0] if node.args else None), [node.func.value]
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    args = list(node.args)
    if name in UNBOUNDED_CALLS:
        return ALL, args
    if name in CARRIED_CALLS and len(args) == 2:
        return _window(args[1]).then(Reach(days=SETTLE_DAYS)), args[:1]
    if name in PERIOD_CALLS:
        return Reach(days=PERIOD_CALLS[name]), args
    if name in ONE_BACK_CALLS:
        return Reach(obs=1), args
    if name == "last_move" and len(args) == 2:  # a change (one back) within the window
        return Reach(obs=1).then(_window(args[1])), args[:1]
    if name == "pct_from_high":
        return _window(args[1] if len(args) > 1 else None), args[:1]
    if len(args) == 2 and isinstance(args[1], ast.Constant):  # change(x, 4), mean(x, '13w')
        return _window(args[1]), args[:1]
    return NONE, args


def reaches(tree: ast.expr) -> tuple[dict[str, Reach], dict[str, tuple[Reach, Reach]]]:
    """For each name an expression reads, the widest look-back on the way to it; and for each
    `settled` call in it (by its text), the widest look-back above it and its own window."""
    found: dict[str, Reach] = {}
    carried: dict[str, tuple[Reach, Reach]] = {}
    stack: list[tuple[ast.expr, Reach]] = [(tree, NONE)]
    while stack:
        node, acc = stack.pop()
        if isinstance(node, ast.Name):
            found[node.id] = found.get(node.id, NONE).widest(acc)
        elif isinstance(node, ast.Call):
            own, args = _own(node)
            if isinstance(node.func, ast.Name) and node.func.id in CARRIED_CALLS:
                key = ast.unparse(node)
                above = carried[key][0].widest(acc) if key in carried else acc
                carried[key] = (above, _window(node.args[1] if len(node.args) > 1 else None))
            stack.extend((arg, acc.then(own)) for arg in args)
        else:
            stack.extend((child, acc) for child in ast.iter_child_nodes(node)
                         if isinstance(child, ast.expr))
    return found, carried


def name_reaches(tree: ast.expr) -> dict[str, Reach]:
    """For each name an expression reads, the widest look-back on the way to it."""
    return reaches(tree)[0]


def total_reach(roots: Mapping[str, Reach], reaches_of: Mapping[str, Mapping[str, Reach]]) -> Reach:
    """The widest look-back from `roots` (name -> reach already walked) down to the inputs;
    `reaches_of` maps a metric or rule name to the names its expression reads."""
    memo: dict[str, Reach] = {}

    def down(name: str, depth: int) -> Reach:
        if name in memo:
            return memo[name]
        inner = reaches_of.get(name)
        if inner is None or depth > 200:  # an input series (cycles are refused at load)
            result = NONE if inner is None else ALL
        else:
            result = NONE
            for child, reach in inner.items():
                result = result.widest(reach.then(down(child, depth + 1)))
        memo[name] = result
        return result

    total = NONE
    for name, reach in roots.items():
        total = total.widest(reach.then(down(name, 0)))
    return total
