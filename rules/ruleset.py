"""A validated, compiled rules file: `load_rules(text, filename) -> RuleSet`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from rules.expr import ExprError, Expression, compile_expression
from rules.loader import (
    Problem,
    RulesError,
    SourceSchemas,
    _Positions,
    check_names,
    expression_problem,
    validate,
)
from rules.model import GaugeSpec, RegimesSpec, RulesFile, RuleSpec, SeriesSpec
from rules.templates import template_problems


@dataclass(frozen=True)
class InputSeries:
    """A series the rules read: its name in the file, its source and its id there."""

    name: str
    source: str
    id: str
    spec: SeriesSpec


@dataclass(frozen=True)
class Rule:
    """One compiled rule: its spec, expressions, the input series it needs, a definition hash."""

    spec: RuleSpec
    when: Expression
    clear_when: Expression | None
    value: Expression | None
    values: dict[str, Expression]
    inputs: frozenset[str]
    definition_hash: str

    @property
    def id(self) -> str:
        """The rule id."""
        return self.spec.id


@dataclass(frozen=True)
class Gauge:
    """One compiled gauge of the regime checklist."""

    spec: GaugeSpec
    when: Expression
    value: Expression | None
    inputs: frozenset[str]


@dataclass(frozen=True)
class RuleSet:
    """Everything a rules file defines, compiled and checked."""

    file: RulesFile
    filename: str
    metrics: dict[str, Expression]
    rules: tuple[Rule, ...]
    gauges: tuple[Gauge, ...] = ()
    choices: tuple[tuple[str, Expression], ...] = ()
    default_regime: str = "neutral"
    _by_id: dict[str, Rule] = field(default_factory=dict, compare=False, repr=False)

    @property
    def series(self) -> Mapping[str, SeriesSpec]:
        """Input series by name."""
        return self.file.series

    @property
    def inputs(self) -> list[InputSeries]:
        """Every input series (name, source, id) — what the fetcher must fetch."""
        return [InputSeries(n, s.source, s.id, s) for n, s in self.file.series.items()]

    def with_rules(self, rules: tuple[Rule, ...]) -> RuleSet:
        """This rule set with `rules` in place of its own (everything else shared)."""
        return replace(self, rules=rules, _by_id={r.id: r for r in rules})

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if none)."""
        return self._by_id[rule_id]

    def expression_of(self, name: str) -> Expression | None:
        """The expression behind a metric or rule name (None for an input series)."""
        if name in self.metrics:
            return self.metrics[name]
        if name in self._by_id:
            return self._by_id[name].when
        return None


def _compile(
    text: str,
    known: list[str],
    pos: _Positions,
    loc: tuple[str | int, ...],
    context: str,
    problems: list[Problem],
) -> Expression | None:
    try:
        return compile_expression(text, known)
    except ExprError as err:
        problems.append(expression_problem(pos, loc, context, err))
        return None


def _find_cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    cycles, state = [], {name: 0 for name in graph}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [name, dep])
            elif state.get(dep) == 0:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [name])
    return cycles


# Words, units and charts do not change what a rule computes, so they stay out of its hash.
PRESENTATION = {"title", "meaning", "falsify", "explain", "unit", "value_title", "chart"}


def _series_payload(spec: SeriesSpec) -> dict[str, object]:
    # Series without source options hash as they did before options existed.
    # A series without `until:` hashes as it did before the key existed.
    exclude = ({"options"} if not spec.options else set()) | ({"until"} if spec.until is None
                                                               else set())
    return spec.model_dump(exclude=exclude or None)


def _definition_hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_rules(
    text: str, filename: str = "rules.yaml", sources: SourceSchemas | None = None
) -> RuleSet:
    """Validate and compile a rules file; raise RulesError listing every problem at once.

    `sources` maps each known source name to the pydantic model of its per-series options
    (the bot passes `sources.registry.option_schemas()`); without it any source is accepted.
    """
    file, pos = validate(text, filename, sources)
    problems = check_names(file, pos)
    known = [*file.series, *file.metrics, *(r.id for r in file.rules)]
    metrics: dict[str, Expression] = {}
    for name, expr_text in file.metrics.items():
        compiled = _compile(
            expr_text, known, pos, ("metrics", name), f'metric "{name}": ', problems
        )
        if compiled is not None:
            metrics[name] = compiled
    compiled_rules: list[tuple[RuleSpec, dict[str, Expression | None]]] = []
    for i, spec in enumerate(file.rules):
        ctx = f'rule "{spec.id}": '
        exprs: dict[str, Expression | None] = {
            "when": _compile(spec.when, known, pos, ("rules", i, "when"), ctx, problems)
        }
        for key in ("clear_when", "value"):
            text_of = getattr(spec, key)
            if text_of is not None:
                exprs[key] = _compile(text_of, known, pos, ("rules", i, key), ctx, problems)
        for key, text_of in spec.value_exprs().items():
            exprs[f"values.{key}"] = _compile(
                text_of, known, pos, ("rules", i, "values", key), ctx, problems
            )
        for key in ("explain", "title", "meaning", "falsify"):
            for message in template_problems(getattr(spec, key)):
                problems.append(pos.problem(("rules", i, key), ctx + message))
        compiled_rules.append((spec, exprs))
    graph = {name: e.names for name, e in metrics.items()}
    for spec, exprs in compiled_rules:
        graph[spec.id] = frozenset().union(*(e.names for e in exprs.values() if e is not None))
    names_only = {
        n: frozenset(d - file.series.keys()) for n, d in graph.items() if n not in file.series
    }
    for cycle in _find_cycles(names_only):
        loc: tuple[str | int, ...] = ("metrics", cycle[0])
        if cycle[0] not in file.metrics:
            loc = ("rules", next(i for i, r in enumerate(file.rules) if r.id == cycle[0]), "id")
        problems.append(pos.problem(loc, "circular definition: " + " -> ".join(cycle)))
    gauges, choices = _compile_regimes(file.regimes, known, pos, problems)
    if problems:
        raise RulesError(sorted(problems, key=lambda p: (p.line, p.col)))
    return _assemble(file, filename, metrics, compiled_rules, graph, gauges, choices)


def _inputs_of(
    names: frozenset[str], graph: dict[str, frozenset[str]], series: Mapping[str, object]
) -> frozenset[str]:
    found: set[str] = set()
    stack, seen = list(names), set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in series:
            found.add(name)
        stack.extend(graph.get(name, ()))
    return frozenset(found)


def _compile_regimes(
    regimes: RegimesSpec | None, known: list[str], pos: _Positions, problems: list[Problem]
) -> tuple[
    list[tuple[GaugeSpec, Expression | None, Expression | None]],
    list[tuple[str, Expression | None]],
]:
    if regimes is None:
        return [], []
    gauges = []
    for i, g in enumerate(regimes.gauges):
        loc: tuple[str | int, ...] = ("regimes", "gauges", i)
        when = _compile(g.when, known, pos, (*loc, "when"), f'gauge "{g.id}": ', problems)
        value = None
        if g.value is not None:
            value = _compile(g.value, known, pos, (*loc, "value"), f'gauge "{g.id}": ', problems)
        gauges.append((g, when, value))
    with_gauges = [*known, *(g.id for g in regimes.gauges)]
    choices = []
    for i, choice in enumerate(regimes.choose):
        loc = ("regimes", "choose", i, "when")
        expr = _compile(choice.when, with_gauges, pos, loc, f'regime "{choice.id}": ', problems)
        choices.append((choice.id, expr))
    return gauges, choices


def _assemble(
    file: RulesFile,
    filename: str,
    metrics: dict[str, Expression],
    compiled_rules: list[tuple[RuleSpec, dict[str, Expression | None]]],
    graph: dict[str, frozenset[str]],
    gauges: list[tuple[GaugeSpec, Expression | None, Expression | None]],
    choices: list[tuple[str, Expression | None]],
) -> RuleSet:
    rules = []
    for spec, exprs in compiled_rules:
        inputs = _inputs_of(graph[spec.id], graph, file.series)
        used_metrics = sorted(n for n in _closure(graph[spec.id], graph) if n in metrics)
        payload = {
            "rule": {
                **spec.model_dump(exclude=PRESENTATION),
                "values": spec.value_exprs(),
            },
            "series": {n: _series_payload(file.series[n]) for n in sorted(inputs)},
            "metrics": {n: file.metrics[n] for n in used_metrics},
        }
        when = exprs["when"]
        assert when is not None
        rules.append(
            Rule(
                spec=spec,
                when=when,
                clear_when=exprs.get("clear_when"),
                value=exprs.get("value"),
                values={
                    k.split(".", 1)[1]: e for k, e in exprs.items() if k.startswith("values.") and e
                },
                inputs=inputs,
                definition_hash=_definition_hash(payload),
            )
        )
    compiled_gauges = []
    for g, when, value in gauges:
        assert when is not None
        compiled_gauges.append(Gauge(g, when, value, _inputs_of(when.names, graph, file.series)))
    ruleset = RuleSet(
        file=file,
        filename=filename,
        metrics=metrics,
        rules=tuple(rules),
        gauges=tuple(compiled_gauges),
        choices=tuple((cid, e) for cid, e in choices if e is not None),
        default_regime=file.regimes.default if file.regimes else "neutral",
    )
    ruleset._by_id.update({r.id: r for r in rules})
    return ruleset


def _closure(names: frozenset[str], graph: dict[str, frozenset[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(graph.get(name, ()))
    return seen


__all__ = ["Gauge", "InputSeries", "Problem", "Rule", "RuleSet", "RulesError", "load_rules"]
