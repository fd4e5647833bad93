"""Load a rules file from text: YAML safe load, pydantic validation, expression compilation,
and every problem reported at once as `file:line:col: message`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rules.expr import ExprError, compile_expression, suggest
from rules.limits import LimitError, file_problems, flow_depth, yaml_size
from rules.model import SERIES_KEYS, RulesFile

# Source name -> the pydantic model of its per-series options (None: the source takes none).
SourceSchemas = Mapping[str, type[BaseModel] | None]

MAX_TEXT = 1_000_000


@dataclass(frozen=True)
class Problem:
    """One problem in a rules file, with a 1-based position."""

    filename: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.message}"


class RulesError(Exception):
    """A rules file has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# libyaml's parser when PyYAML was built with it (about ten times faster), else PyYAML's own.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 booleans: only true/false, so a key `on:` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Positions:
    """Finds line/column of a location path (keys and indexes) in the YAML node tree."""

    def __init__(self, filename: str, root: yaml.Node | None, text: str = "") -> None:
        self.filename = filename
        self.root = root
        self.lines = text.split("\n")

    def node(self, loc: Sequence[str | int], key: bool = False) -> yaml.Node | None:
        """The deepest node on the path (the key node of the last step when `key`)."""
        node = self.root
        for i, step in enumerate(loc):
            if isinstance(node, yaml.MappingNode):
                for key_node, value in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                        node = key_node if key and i == len(loc) - 1 else value
                        break
                else:
                    return node
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if not 0 <= step < len(node.value):
                    return node
                node = node.value[step]
            else:
                return node
        return node

    def problem(
        self,
        loc: Sequence[str | int],
        message: str,
        offset: tuple[int, int] | None = None,
        key: bool = False,
    ) -> Problem:
        """A Problem at `loc`, shifted by a (line, col) offset inside a scalar's text."""
        node = self.node(loc, key)
        if node is None:
            return Problem(self.filename, 1, 1, message)
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.ScalarNode) and offset is not None:
            if node.style in (None, "'", '"') and offset[0] == 0:
                col += offset[1] + (1 if node.style else 0)
            elif node.style in ("|", ">"):
                line, col = _block_position(node, offset, self.lines)
        return Problem(self.filename, line, col, message)


def _block_position(
    node: yaml.ScalarNode, offset: tuple[int, int], text: Sequence[str]
) -> tuple[int, int]:
    """1-based (line, col) of an offset into a block scalar's text (folded: lines joined);
    `text` is the file's lines (libyaml's marks carry no buffer)."""
    end = node.end_mark
    lines = list(text[node.start_mark.line + 1 : end.line + (1 if end.column else 0)])
    first = node.start_mark.line + 2
    indent = len(lines[0]) - len(lines[0].lstrip(" ")) if lines else 0
    if node.style == "|":
        return first + offset[0], indent + offset[1] + 1
    remaining = offset[1]
    for number, raw in enumerate(lines):
        text = raw.strip()
        if remaining <= len(text):
            return first + number, len(raw) - len(raw.lstrip(" ")) + remaining + 1
        remaining -= len(text) + 1
    return first, indent + 1


def _duplicate_keys(
    node: yaml.Node | None, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[yaml.Node, str]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                yield key, f'duplicate key "{name}"'
            seen.add(name)
            yield from _duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i))


def _describe(loc: Sequence[str | int], data: Any) -> str:
    """'rule "qt_ends"' style context for a pydantic location."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            return f'rule "{data["rules"][loc[1]]["id"]}": '
        except (KeyError, IndexError, TypeError):
            return f"rule #{loc[1] + 1}: "
    if len(loc) >= 2 and loc[0] in ("series", "metrics"):
        return f'{loc[0][:-1] if loc[0] == "metrics" else "series"} "{loc[1]}": '
    return ""


def _is_union_tag(step: str | int) -> bool:
    return isinstance(step, str) and (step in ("str", "dict") or "[" in step)


def _pydantic_problems(err: ValidationError, pos: _Positions, data: Any) -> list[Problem]:
    problems, seen = [], set()
    items = [(item, [s for s in item["loc"] if not _is_union_tag(s)]) for item in err.errors()]
    deeper = {tuple(loc[:i]) for _, loc in items for i in range(len(loc))}
    for item, loc in items:
        plain_branch = "str" in item["loc"] and tuple(loc) in deeper
        if tuple(loc) in seen or plain_branch:  # a union's other branch says more
            continue
        seen.add(tuple(loc))
        field = ".".join(str(s) for s in loc)
        key = item["type"] == "extra_forbidden"
        if key:
            message = f'unknown key "{loc[-1]}"' if loc else "unknown key"
        elif item["type"] == "missing":
            message = f'missing "{loc[-1]}"'
            loc = loc[:-1]
        else:
            message = f"{field}: {item['msg']}"
        problems.append(pos.problem(loc, _describe(loc, data) + message, key=key))
    return problems


def parse_yaml(text: str, filename: str) -> tuple[Any, _Positions]:
    """YAML text to Python data plus a position finder; raise RulesError on bad YAML."""
    if len(text) > MAX_TEXT:
        raise RulesError([Problem(filename, 1, 1, f"file is larger than {MAX_TEXT} characters")])
    try:
        flow_depth(text)
        loader = _Loader(text)
        try:  # parsed once: the node tree gives positions, then the data are built from it
            root = loader.get_single_node()
            yaml_size(root)  # before anything walks the tree or builds the data: no alias bomb
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RulesError([Problem(filename, line, col, f"YAML: {err.problem or err}")]) from None
    except LimitError as err:
        raise RulesError([Problem(filename, 1, 1, str(err))]) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as err:
        raise RulesError([Problem(filename, 1, 1, f"YAML: {err}")]) from None
    pos = _Positions(filename, root, text)
    dupes: list[Problem] = []
    for key, message in _duplicate_keys(root):
        dupes.append(Problem(filename, key.start_mark.line + 1, key.start_mark.column + 1, message))
    if dupes:
        raise RulesError(dupes)
    return data, pos


def validate(
    text: str, filename: str, sources: SourceSchemas | None = None
) -> tuple[RulesFile, _Positions]:
    """Parse and validate the file's structure, and each series' source and options against
    `sources` when given (any source name and options otherwise); raise RulesError with
    every problem."""
    data, pos = parse_yaml(text, filename)
    if not isinstance(data, dict):
        raise RulesError(
            [Problem(filename, 1, 1, "a rules file is a mapping with 'series:' and 'rules:'")]
        )
    options = source_problems(data, pos, sources)
    try:
        file = RulesFile.model_validate(data)
    except ValidationError as err:
        problems = _pydantic_problems(err, pos, data) + _raw_expression_problems(data, pos)
        problems += options
        raise RulesError(sorted(set(problems), key=lambda p: (p.line, p.col))) from None
    except (RecursionError, TypeError, ValueError) as err:
        raise RulesError([Problem(filename, 1, 1, f"invalid rules file: {err}")]) from None
    options += [pos.problem(loc, message) for loc, message in file_problems(file)]
    if options:
        raise RulesError(sorted(set(options), key=lambda p: (p.line, p.col)))
    return file, pos


def source_problems(data: Any, pos: _Positions, sources: SourceSchemas | None) -> list[Problem]:
    """Unknown source names, and options their source does not take or needs, per series."""
    series = data.get("series") if isinstance(data, dict) else None
    if sources is None or not isinstance(series, dict):
        return []
    problems: list[Problem] = []
    for name, spec in series.items():
        source = spec.get("source", "fred") if isinstance(spec, dict) else None
        if not isinstance(source, str):
            continue  # the structure check reports it
        context = f'series "{name}": '
        if source not in sources:
            problems.append(pos.problem(("series", name, "source"),
                                        f'{context}unknown source "{source}"'
                                        f"{suggest(source, list(sources))}"))
            continue
        options = {str(k): v for k, v in spec.items() if k not in SERIES_KEYS}
        problems += _option_problems(pos, str(name), source, options, sources[source])
    return problems


def _option_problems(
    pos: _Positions, name: str, source: str, options: dict[str, Any],
    model: type[BaseModel] | None,
) -> list[Problem]:
    context = f'series "{name}": '
    keys = [*SERIES_KEYS, *(model.model_fields if model is not None else ())]
    if model is None:
        return [pos.problem(("series", name, key), f'{context}unknown key "{key}"'
                            f"{suggest(key, keys)}", key=True) for key in options]
    try:
        model.model_validate(options)
    except ValidationError as err:
        problems = []
        for item in err.errors():
            loc = [str(step) for step in item["loc"]]
            if item["type"] == "extra_forbidden" and loc:
                problems.append(pos.problem(("series", name, loc[0]),
                                            f'{context}unknown key "{loc[0]}"'
                                            f"{suggest(loc[0], keys)}", key=True))
            elif item["type"] == "missing" and loc:
                problems.append(pos.problem(
                    ("series", name), f'{context}missing "{loc[0]}" (source {source} needs it)'))
            else:
                where = ".".join(loc) + ": " if loc else ""  # a model-level check has no loc
                problems.append(pos.problem(("series", name, *loc),
                                            f"{context}{where}{item['msg']}"))
        return problems
    return []


def _raw_expression_problems(data: dict[Any, Any], pos: _Positions) -> list[Problem]:
    """Expression problems found in a file whose structure is invalid (so all show at once)."""

    def mapping(key: str) -> dict[Any, Any]:
        value = data.get(key)
        return value if isinstance(value, dict) else {}

    rules = (
        [r for r in data.get("rules") or [] if isinstance(r, dict)]
        if isinstance(data.get("rules"), list)
        else []
    )
    known = [str(k) for k in (*mapping("series"), *mapping("metrics"))]
    known += [str(r["id"]) for r in rules if isinstance(r.get("id"), str)]
    problems: list[Problem] = []
    for name, text in mapping("metrics").items():
        if isinstance(text, str):
            compile_checked(
                text, known, pos, ("metrics", str(name)), f'metric "{name}": ', problems
            )
    for i, rule in enumerate(
        data.get("rules") or [] if isinstance(data.get("rules"), list) else []
    ):
        if not isinstance(rule, dict):
            continue
        context = (
            f'rule "{rule.get("id")}": ' if isinstance(rule.get("id"), str) else f"rule #{i + 1}: "
        )
        for key in ("when", "clear_when", "value"):
            if isinstance(rule.get(key), str):
                compile_checked(rule[key], known, pos, ("rules", i, key), context, problems)
    return problems


def expression_problem(
    pos: _Positions, loc: Sequence[str | int], context: str, err: ExprError
) -> Problem:
    """A Problem pointing inside the expression at `loc`."""
    return pos.problem(loc, f"{context}{err.message}", (err.line, err.col))


def check_names(file: RulesFile, pos: _Positions) -> list[Problem]:
    """Problems with names: duplicate ids, clashes between series/metrics/rules, bad `on:`."""
    problems: list[Problem] = []
    seen: dict[str, str] = {name: "series" for name in file.series}
    for name in file.metrics:
        if name in seen:
            problems.append(
                pos.problem(
                    ("metrics", name), f'metric "{name}" has the name of a series', key=True
                )
            )
        seen[name] = "metric"
    for i, rule in enumerate(file.rules):
        if rule.id in seen:
            problems.append(
                pos.problem(
                    ("rules", i, "id"), f'rule "{rule.id}": id already used by a {seen[rule.id]}'
                )
            )
        seen[rule.id] = "rule"
        if rule.on is not None and rule.on not in file.series:
            problems.append(
                pos.problem(
                    ("rules", i, "on"),
                    f'rule "{rule.id}": unknown series "{rule.on}"{suggest(rule.on, file.series)}',
                )
            )
    return problems


def compile_checked(
    text: str,
    known: Sequence[str],
    pos: _Positions,
    loc: Sequence[str | int],
    context: str,
    problems: list[Problem],
) -> None:
    """Compile one expression, appending a Problem instead of raising."""
    try:
        compile_expression(text, known)
    except ExprError as err:
        problems.append(expression_problem(pos, loc, context, err))
