"""The operators of the rule language over whole pandas Series: three-valued truth (NaN is
unknown), comparisons, and arithmetic whose overflow is unknown over series and an error on
plain numbers (which come only from constant parts, folded at compile time)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from rules.functions import Value, align, as_series, clean


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
        if isinstance(a, pd.Series) or isinstance(b, pd.Series):
            with np.errstate(all="ignore"):  # an overflow is inf, then unknown (clean)
                return clean(op(a, b))  # type: ignore[arg-type]
        # Plain numbers come only from constant parts, folded (and checked) at compile time;
        # should one slip through, it is an error of this rule, never a crash of the run.
        try:
            result = float(op(a, b))  # type: ignore[arg-type]
        except (ArithmeticError, TypeError) as err:
            raise ArithmeticError(f"numeric overflow: {err}") from None
        if math.isinf(result):
            raise ArithmeticError("numeric overflow: the result is not a finite number")
        return result

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
