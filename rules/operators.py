"""The operators of the rule language over whole columns: three-valued truth (NaN is unknown),
comparisons, and arithmetic whose overflow is unknown over columns and an error on plain
numbers (which come only from constant parts, folded at compile time)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from rules.column import Col, Val, align, clean, pair


def truth(value: Val) -> Val:
    """1.0/0.0/NaN truth of a value: unknown stays NaN."""
    if isinstance(value, Col):
        vals = value.vals
        return value.like(np.where(np.isnan(vals), np.nan, (vals != 0).astype("float64")))
    return float("nan") if np.isnan(value) else float(value != 0)


def _compare(op: Callable[[Any, Any], Any]) -> Callable[[Val, Val], Val]:
    def run(a: Val, b: Val) -> Val:
        both = pair(a, b)
        if both is None:
            assert not isinstance(a, Col) and not isinstance(b, Col)
            if np.isnan(a) or np.isnan(b):
                return float("nan")
            return float(bool(op(a, b)))
        left, right = both
        found = op(left.vals, right.vals).astype("float64")
        return left.like(np.where(left.known() & right.known(), found, np.nan))

    return run


def _and(a: Val, b: Val) -> Val:
    a, b = truth(a), truth(b)
    both = pair(a, b)
    if both is None:
        assert not isinstance(a, Col) and not isinstance(b, Col)
        if a == 0 or b == 0:
            return 0.0
        return float("nan") if np.isnan(a) or np.isnan(b) else 1.0
    left, right = both
    false = (left.vals == 0) | (right.vals == 0)
    unknown = np.isnan(left.vals) | np.isnan(right.vals)
    return left.like(np.where(false, 0.0, np.where(unknown, np.nan, 1.0)))


def _or(a: Val, b: Val) -> Val:
    return _not(_and(_not(a), _not(b)))


def _not(a: Val) -> Val:
    t = truth(a)
    return t.like(1.0 - t.vals) if isinstance(t, Col) else 1.0 - t


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Val, Val], Val]:
    def run(a: Val, b: Val) -> Val:
        a, b = align(a, b)
        if isinstance(a, Col) or isinstance(b, Col):
            like = a if isinstance(a, Col) else b
            assert isinstance(like, Col)
            left = a.vals if isinstance(a, Col) else a
            right = b.vals if isinstance(b, Col) else b
            with np.errstate(all="ignore"):  # an overflow is inf, then unknown (clean)
                return like.like(clean(np.asarray(op(left, right), dtype="float64")))
        # Plain numbers come only from constant parts, folded (and checked) at compile time;
        # should one slip through, it is an error of this rule, never a crash of the run.
        try:
            result = float(op(a, b))
        except (ArithmeticError, TypeError) as err:
            raise ArithmeticError(f"numeric overflow: {err}") from None
        if math.isinf(result):
            raise ArithmeticError("numeric overflow: the result is not a finite number")
        return result

    return run


def _div(a: Val, b: Val) -> Val:
    if not isinstance(a, Col) and not isinstance(b, Col):
        return a / b if b != 0 else float("nan")
    return _arith(operator.truediv)(a, b)


def negate(a: Val) -> Val:
    """-a."""
    return a.like(-a.vals) if isinstance(a, Col) else -a


BINARY: dict[type[ast.operator], Callable[[Val, Val], Val]] = {
    ast.Add: _arith(operator.add),
    ast.Sub: _arith(operator.sub),
    ast.Mult: _arith(operator.mul),
    ast.Div: _div,
    ast.Pow: _arith(operator.pow),
}
COMPARE: dict[type[ast.cmpop], Callable[[Val, Val], Val]] = {
    ast.Lt: _compare(operator.lt),
    ast.LtE: _compare(operator.le),
    ast.Gt: _compare(operator.gt),
    ast.GtE: _compare(operator.ge),
    ast.Eq: _compare(operator.eq),
    ast.NotEq: _compare(operator.ne),
}
