"""The rule expression language: Python syntax parsed with `ast`, walked against a whitelist,
compiled to a function over whole columns of numpy arrays (never `eval`)."""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from rules import functions as fn
from rules.catalog import FUNCTIONS, METHODS
from rules.column import Col, Val, to_col, to_value
from rules.functions import Value
from rules.limits import literal_problem, period_problem
from rules.model import parse_duration
from rules.operators import BINARY, COMPARE, _and, _not, _or, negate
from rules.reach import Reach, reaches

MAX_NODES = 400
MAX_EXPONENT = 8


class Env(Protocol):
    """Where a compiled expression looks up names (series, metrics, other rules). An
    environment may also offer `column(name) -> Col | float` and `clock_dates() -> int64 ns
    array`, the same without a pandas round trip (the evaluator does)."""

    def lookup(self, name: str) -> Value:
        """The value of `name` over its whole history."""
        ...

    def clock_index(self) -> pd.DatetimeIndex:
        """Every date on which any input changes (what `coalesce` and `known` fill)."""
        ...


Compiled = Callable[[Env], Val]


def read(env: Env, name: str) -> Val:
    """The value of `name` as a column (or a number)."""
    column = getattr(env, "column", None)
    return column(name) if column is not None else to_col(env.lookup(name))


def clock_of(env: Env) -> np.ndarray:
    """The environment's clock as int64 ns dates."""
    dates = getattr(env, "clock_dates", None)
    if dates is not None:
        return dates()  # type: ignore[no-any-return]
    return np.asarray(pd.DatetimeIndex(env.clock_index()).as_unit("ns").asi8, dtype="int64")


class ExprError(Exception):
    """An expression is not valid; `line` and `col` are 0-based within the expression text."""

    def __init__(self, message: str, line: int = 0, col: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass(frozen=True)
class Expression:
    """A compiled expression: the source text, the names it reads, and the function."""

    text: str
    names: frozenset[str]
    compute: Compiled = field(compare=False)  # to a column or a number (inside an evaluation)
    comparison: tuple[Compiled, float] | None = field(default=None, compare=False)
    reaches: dict[str, Reach] = field(default_factory=dict, compare=False)  # look-back per name
    # each `settled` call (by text): the look-back above it, and its own window
    carried: dict[str, tuple[Reach, Reach]] = field(default_factory=dict, compare=False)

    def run(self, env: Env) -> Value:
        """The value over the whole history, as a Series (or a number)."""
        return to_value(self.compute(env))


def suggest(name: str, known: Collection[str]) -> str:
    """' (did you mean "x"?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


NODE_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.IfExp: "if-else",
    ast.NamedExpr: "assignment",
    ast.Starred: "star arguments",
    ast.JoinedStr: "f-strings",
}


class _NoEnv:
    """The environment of a constant part of an expression: it reads nothing."""

    def lookup(self, name: str) -> Value:
        raise KeyError(name)

    def clock_index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")

    def clock_dates(self) -> np.ndarray:
        return np.array([], dtype="int64")


def _reads_nothing(node: ast.expr) -> bool:
    return not any(isinstance(n, ast.Name) for n in ast.walk(node))


class _Compiler:
    def __init__(self, known: Collection[str]) -> None:
        self.known = known
        self.names: set[str] = set()

    def fold(self, node: ast.expr, run: Compiled) -> Compiled:
        """A part that reads no series is computed now: an overflow (1e15 ** 8 ** ...) is an
        error of the file at load, not of the evaluation."""
        try:
            value = run(_NoEnv())
        except (ArithmeticError, TypeError, ValueError, KeyError) as err:
            raise self.fail(node, f"this constant part cannot be computed: {err}") from None
        if isinstance(value, Col):
            return run
        if math.isinf(value):  # NaN (x / 0) stays "unknown", as it does over series
            raise self.fail(node, "this constant part overflows (it is not a finite number)")
        return lambda _env: value

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, getattr(node, "lineno", 1) - 1, getattr(node, "col_offset", 0))

    def compile(self, node: ast.expr) -> Compiled:
        run = self.compile_node(node)
        if not isinstance(node, ast.Constant) and _reads_nothing(node):
            return self.fold(node, run)
        return run

    def compile_node(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise self.fail(node, f"{node.value!r} is not a number here")
            too_big = literal_problem(node.value)
            if too_big:
                raise self.fail(node, too_big)
            number = float(node.value)
            return lambda _env: number
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            combine = _and if isinstance(node.op, ast.And) else _or

            def boolop(env: Env) -> Val:
                result = parts[0](env)
                for part in parts[1:]:
                    result = combine(result, part(env))
                return result

            return boolop
        if isinstance(node, ast.UnaryOp):
            inner = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda env: _not(inner(env))
            if isinstance(node.op, ast.USub):
                return lambda env: negate(inner(env))
            if isinstance(node.op, ast.UAdd):
                return inner
            raise self.fail(node, "operator ~ is not allowed")
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        what = NODE_NAMES.get(type(node), type(node).__name__)
        raise self.fail(node, f"{what} not allowed in a rule expression")

    def name(self, node: ast.Name) -> Compiled:
        name = node.id
        if name.startswith("_"):
            raise self.fail(node, f'"{name}": names starting with "_" are not allowed')
        if name not in self.known:
            hint = suggest(name, [*self.known, *FUNCTIONS])
            raise self.fail(node, f'unknown series "{name}"{hint}')
        self.names.add(name)
        return lambda env: read(env, name)

    def binop(self, node: ast.BinOp) -> Compiled:
        op = BINARY.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (
                isinstance(exponent, ast.Constant)
                and isinstance(exponent.value, int | float)
                and abs(exponent.value) <= MAX_EXPONENT
            ):
                raise self.fail(node, f"** needs a constant exponent of at most {MAX_EXPONENT}")
        left, right = self.compile(node.left), self.compile(node.right)
        return lambda env: op(left(env), right(env))

    def compare(self, node: ast.Compare) -> Compiled:
        operands = [self.compile(node.left), *(self.compile(c) for c in node.comparators)]
        ops = [COMPARE[type(o)] for o in node.ops]

        def chain(env: Env) -> Val:
            values = [operand(env) for operand in operands]
            result: Val = ops[0](values[0], values[1])
            for i, op in enumerate(ops[1:], start=1):
                result = _and(result, op(values[i], values[i + 1]))
            return result

        return chain

    def call(self, node: ast.Call) -> Compiled:
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        args = list(node.args)
        if isinstance(node.func, ast.Attribute):
            if node.func.attr not in METHODS:
                raise self.fail(node, f'method ".{node.func.attr}" is not allowed (only .shift)')
            name, args = node.func.attr, [node.func.value, *args]
        elif isinstance(node.func, ast.Name):
            name = node.func.id
        else:
            raise self.fail(node, "only whitelisted functions may be called")
        sig = FUNCTIONS.get(name)
        if sig is None:
            raise self.fail(node, f'unknown function "{name}"{suggest(name, FUNCTIONS)}')
        low, high = len(sig.kinds) - sig.optional, len(sig.kinds)
        if not low <= len(args) <= high:
            raise self.fail(node, f"{name} takes {low}-{high} arguments: {sig.help}")
        compiled = [
            self.argument(arg, kind, name) for arg, kind in zip(args, sig.kinds, strict=False)
        ]

        # The same call written in several rules (`change(real_10y, '13w')` six times in the
        # default file) is computed once per evaluation, where the environment keeps `calls`.
        key = ast.unparse(node)

        def compute(env: Env) -> Val:
            args = [c(env) if callable(c) else c for c in compiled]
            if sig.clock:
                return sig.impl(*args, clock=clock_of(env))
            if sig.carried:  # in a windowed evaluation: where it must be exact (rules.window)
                return sig.impl(*args, exact=getattr(env, "carried", {}).get(key))
            return sig.impl(*args)

        def run(env: Env) -> Val:
            calls = getattr(env, "calls", None)
            if not isinstance(calls, dict):
                return compute(env)
            if key not in calls:
                calls[key] = compute(env)
            found: Val = calls[key]
            return found

        return run

    def argument(self, node: ast.expr, kind: str, func: str) -> Compiled | int | str:
        if kind == "x":
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                raise self.fail(node, f"{func}: a period string is not a value here")
            return self.compile(node)
        value = node.value if isinstance(node, ast.Constant) else None
        if kind == "w" and isinstance(value, str):
            try:
                parse_duration(value)
            except ValueError as err:
                raise self.fail(node, f"{func}: {err}") from None
            too_long = period_problem(value)
            if too_long:
                raise self.fail(node, f"{func}: {too_long}")
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000:
            return value
        if kind == "n" and value == 0:
            return 0
        expected = "a positive whole number" if kind == "n" else "an observation count or period"
        raise self.fail(node, f"{func}: expected {expected} such as 4 or '26w'")


def compile_expression(text: str, known: Collection[str]) -> Expression:
    """Parse and compile `text`; raise ExprError with a position on anything not whitelisted."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExprError(
            f"syntax error: {err.msg}", (err.lineno or 1) - 1, (err.offset or 1) - 1
        ) from None
    except ValueError as err:  # e.g. an integer literal of thousands of digits
        raise ExprError(f"malformed expression: {str(err)[:120]}") from None
    except (RecursionError, MemoryError):
        raise ExprError("expression is too deeply nested or malformed") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ExprError(f"expression is too long (more than {MAX_NODES} parts)")
    compiler = _Compiler(known)
    try:
        run = compiler.compile(tree.body)
    except RecursionError:
        raise ExprError("expression is too deeply nested") from None
    comparison = None
    body = tree.body
    if (
        isinstance(body, ast.Compare)
        and len(body.ops) == 1
        and isinstance(body.comparators[0], ast.Constant)
        and isinstance(body.comparators[0].value, int | float)
    ):
        comparison = (compiler.compile(body.left), float(body.comparators[0].value))
    found, carried = reaches(tree.body)
    names = {n: r for n, r in found.items() if n in compiler.names}
    return Expression(text, frozenset(compiler.names), run, comparison, names, carried)


__all__ = ["Compiled", "Env", "ExprError", "Expression", "compile_expression", "fn", "read",
           "suggest"]
