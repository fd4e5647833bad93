"""The rule expression language: Python syntax parsed with `ast`, walked against a whitelist,
compiled to a function over whole pandas Series (never `eval`)."""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from rules import functions as fn
from rules.catalog import FUNCTIONS, METHODS
from rules.functions import Value, align, as_series, clean
from rules.model import parse_duration

MAX_NODES = 400
MAX_EXPONENT = 8


class Env(Protocol):
    """Where a compiled expression looks up names (series, metrics, other rules)."""

    def lookup(self, name: str) -> Value:
        """The value of `name` over its whole history."""
        ...

    def clock_index(self) -> pd.DatetimeIndex:
        """Every date on which any input changes (what `coalesce` and `known` fill)."""
        ...


Compiled = Callable[[Env], Value]


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
    run: Compiled = field(compare=False)
    comparison: tuple[Compiled, float] | None = field(default=None, compare=False)


def suggest(name: str, known: Collection[str]) -> str:
    """' (did you mean "x"?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _truth(values: Value) -> Value:
    """Truthiness keeping unknown as NaN."""
    if isinstance(values, pd.Series):
        return (values != 0).astype("float64").where(values.notna())
    return float("nan") if np.isnan(values) else float(values != 0)


def _compare(op: Callable[[Any, Any], Any]) -> Callable[[Value, Value], Value]:
    def run(a: Value, b: Value) -> Value:
        a, b = align(a, b)
        if isinstance(a, pd.Series) or isinstance(b, pd.Series):
            left = as_series(a, b if isinstance(b, pd.Series) else None)
            right = as_series(b, left)
            result: pd.Series = op(left, right)
            return result.astype("float64").where(left.notna() & right.notna())
        if np.isnan(a) or np.isnan(b):
            return float("nan")
        return float(bool(op(a, b)))

    return run


def _and(a: Value, b: Value) -> Value:
    a, b = align(_truth(a), _truth(b))
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        left = as_series(a, b if isinstance(b, pd.Series) else None)
        right = as_series(b, left)
        false = (left == 0) | (right == 0)
        unknown = left.isna() | right.isna()
        return pd.Series(np.where(false, 0.0, np.where(unknown, np.nan, 1.0)), index=left.index)
    if a == 0 or b == 0:
        return 0.0
    return float("nan") if np.isnan(a) or np.isnan(b) else 1.0


def _or(a: Value, b: Value) -> Value:
    return _not(_and(_not(a), _not(b)))


def _not(a: Value) -> Value:
    t = _truth(a)
    return 1.0 - t


def _arith(op: Callable[[Value, Value], Value]) -> Callable[[Value, Value], Value]:
    def run(a: Value, b: Value) -> Value:
        a, b = align(a, b)
        result = op(a, b)
        return clean(result) if isinstance(result, pd.Series) else float(result)

    return run


def _div(a: Value, b: Value) -> Value:
    if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
        return a / b if b != 0 else float("nan")
    return _arith(operator.truediv)(a, b)


BINARY: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: _arith(operator.add),
    ast.Sub: _arith(operator.sub),
    ast.Mult: _arith(operator.mul),
    ast.Div: _div,
    ast.Pow: _arith(operator.pow),
}
COMPARE: dict[type[ast.cmpop], Callable[[Value, Value], Value]] = {
    ast.Lt: _compare(operator.lt),
    ast.LtE: _compare(operator.le),
    ast.Gt: _compare(operator.gt),
    ast.GtE: _compare(operator.ge),
    ast.Eq: _compare(operator.eq),
    ast.NotEq: _compare(operator.ne),
}
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


class _Compiler:
    def __init__(self, known: Collection[str]) -> None:
        self.known = known
        self.names: set[str] = set()

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, getattr(node, "lineno", 1) - 1, getattr(node, "col_offset", 0))

    def compile(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise self.fail(node, f"{node.value!r} is not a number here")
            number = float(node.value)
            return lambda _env: number
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            combine = _and if isinstance(node.op, ast.And) else _or

            def boolop(env: Env) -> Value:
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
                return lambda env: -inner(env)
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
        return lambda env: env.lookup(name)

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

        def chain(env: Env) -> Value:
            values = [operand(env) for operand in operands]
            result: Value = ops[0](values[0], values[1])
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

        def run(env: Env) -> Value:
            args = [c(env) if callable(c) else c for c in compiled]
            if sig.clock:
                return sig.impl(*args, clock=env.clock_index())
            return sig.impl(*args)

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
    except (RecursionError, MemoryError, ValueError):
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
    return Expression(text, frozenset(compiler.names), run, comparison)


__all__ = ["Compiled", "Env", "ExprError", "Expression", "compile_expression", "fn", "suggest"]
