"""The budget of a rules file: what it may ask of the engine, checked at load (and so at
`check` and at every reload) before anything walks or evaluates it.

A YAML alias bomb is refused from its node graph before any tree walk; a chain of metrics is
refused when it is deeper than the evaluator can follow; periods, literals and counts are
capped at sizes real rules never need.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping

import yaml

from rules.model import RulesFile, parse_duration

MAX_YAML_NODES = 100_000  # nodes after alias expansion (rules.yaml has about 3,000)
MAX_YAML_DEPTH = 64
MAX_PERIOD_YEARS = 100
MAX_PERIOD_DAYS = round(MAX_PERIOD_YEARS * 365.25)
DAYS = {"d": 1.0, "w": 7.0, "m": 30.4375, "q": 91.3125, "y": 365.25}
MAX_LITERAL = 1e15  # the largest number a rule may write (WALCL is ~7e6 millions)
MAX_METRICS = 1_000
MAX_RULES = 500
# How deep names may chain (a metric reading a metric ...), and the nesting summed along a
# chain (each level of an expression is a few frames of evaluation; the sum stays well under
# Python's recursion limit in any thread).
MAX_CHAIN = 100
MAX_NESTING = 400


class LimitError(ValueError):
    """A rules file asks for more than the budget allows."""


def yaml_size(root: yaml.Node | None) -> None:
    """Refuse a node graph that expands to more than MAX_YAML_NODES nodes (aliases counted
    each time they are used), nests deeper than MAX_YAML_DEPTH, or refers to itself; linear
    in the number of distinct nodes, so a 600-byte "billion laughs" is refused at once."""
    if root is None:
        return
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_NODES:
                raise LimitError(
                    f"YAML expands to more than {MAX_YAML_NODES:,} nodes (aliases repeated)"
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise LimitError("YAML alias refers to itself")
        on_path.add(key)
        if len(on_path) > MAX_YAML_DEPTH:
            raise LimitError(f"YAML nests deeper than {MAX_YAML_DEPTH} levels")
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise LimitError("YAML alias refers to itself")
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def period_problem(text: str) -> str | None:
    """Why a period string is beyond the budget (longer than MAX_PERIOD_YEARS), or None."""
    count, unit = parse_duration(text)
    if count * DAYS[unit] > MAX_PERIOD_DAYS:
        return f"period {text!r} is longer than {MAX_PERIOD_YEARS} years"
    return None


def literal_problem(value: object) -> str | None:
    """Why a number written in an expression is beyond the budget, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 64 or abs(value) > MAX_LITERAL:
            return f"number too large (at most {MAX_LITERAL:.0e})"
        return None
    if isinstance(value, float) and (not math.isfinite(value) or abs(value) > MAX_LITERAL):
        return f"number {value!r} too large (at most {MAX_LITERAL:.0e})"
    return None


def expression_names(text: str) -> tuple[frozenset[str], int]:
    """The names an expression reads and its nesting depth (0 for what does not parse; the
    compiler reports that)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset(), 0
    names: set[str] = set()
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, ast.Name):
            names.add(node.id)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return frozenset(names), deepest


def chain_problem(
    graph: Mapping[str, frozenset[str]], nesting: Mapping[str, int]
) -> str | None:
    """Why the definitions chain too deep (names through names, or nesting summed along a
    chain), or None; iterative, so a 2,000-long chain or cycle is a message, not a crash."""
    chain: dict[str, int] = {}
    depth: dict[str, int] = {}
    for start in sorted(graph):
        if start in chain:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            name, done = stack.pop()
            deps = [d for d in sorted(graph.get(name, ())) if d in graph]
            if done:
                path.pop()
                on_path.discard(name)
                known = [d for d in deps if d in chain]
                chain[name] = 1 + max((chain[d] for d in known), default=0)
                depth[name] = nesting.get(name, 0) + max((depth[d] for d in known), default=0)
                problem = _too_deep(name, chain[name], depth[name])
                if problem:
                    return problem
                continue
            if name in chain or name in on_path:
                continue  # a short cycle: the cycle check names it
            path.append(name)
            on_path.add(name)
            if len(path) > MAX_CHAIN:
                return _too_deep(path[0], len(path), 0, path)
            stack.append((name, True))
            stack.extend((d, False) for d in reversed(deps) if d not in chain)
    return None


def _too_deep(name: str, links: int, nesting: int, path: list[str] | None = None) -> str | None:
    if links > MAX_CHAIN:
        shown = " -> ".join([*path[:4], "...", path[-1]]) if path else name
        return (f'"{name}": definitions chain more than {MAX_CHAIN} deep ({shown}); '
                "a circular definition, or a chain to shorten")
    if nesting > MAX_NESTING:
        return (f'"{name}": expressions nest more than {MAX_NESTING} levels counted along '
                "its chain of metrics; split or shorten it")
    return None


def count_problems(metrics: Iterable[object], rules: Iterable[object]) -> list[str]:
    """Too many metrics or rules for one file."""
    problems = []
    n_metrics, n_rules = len(list(metrics)), len(list(rules))
    if n_metrics > MAX_METRICS:
        problems.append(f"{n_metrics:,} metrics (at most {MAX_METRICS:,})")
    if n_rules > MAX_RULES:
        problems.append(f"{n_rules:,} rules (at most {MAX_RULES:,})")
    return problems


Located = tuple[tuple[str | int, ...], str]  # (location path in the file, message)


def file_problems(file: RulesFile) -> list[Located]:
    """Every way a validated file exceeds the budget: counts, periods of its series, and the
    depth of its chains of definitions."""
    found: list[Located] = [((), message) for message in count_problems(file.metrics, file.rules)]
    for name, spec in file.series.items():
        for key in ("lag", "fresh"):
            text = getattr(spec, key)
            problem = period_problem(text) if text else None
            if problem:
                found.append((("series", name, key), f'series "{name}": {key}: {problem}'))
    if found:
        return found
    graph: dict[str, frozenset[str]] = {}
    nesting: dict[str, int] = {}

    def add(name: str, texts: Iterable[str | None]) -> None:
        parsed = [expression_names(t) for t in texts if t]
        graph[name] = frozenset().union(*(names for names, _ in parsed))
        nesting[name] = max((depth for _, depth in parsed), default=0)

    for name, text in file.metrics.items():
        add(name, [text])
    for rule in file.rules:
        add(rule.id, [rule.when, rule.clear_when, rule.value, *rule.value_exprs().values()])
    if file.regimes is not None:
        for gauge in file.regimes.gauges:
            add(gauge.id, [gauge.when, gauge.value])
    problem = chain_problem(graph, nesting)
    return [((), problem)] if problem else []


_BRACKETS = re.compile(r"[\[\]{}]")


def flow_depth(text: str) -> None:
    """Refuse flow collections ([ and {) nested deeper than MAX_YAML_DEPTH, from the text
    itself, before the (recursive) YAML parser spends seconds on 50,000 brackets. Brackets
    inside strings count too: a rules file never nests them anywhere near that deep."""
    depth = 0
    for bracket in _BRACKETS.findall(text):
        depth = depth + 1 if bracket in "[{" else max(0, depth - 1)
        if depth > MAX_YAML_DEPTH:
            raise LimitError(f"YAML nests deeper than {MAX_YAML_DEPTH} levels")
