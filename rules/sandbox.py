"""The budgeted Jinja2 sandbox for user templates: bounded loops, calls, size and time, and
output that shows values only (never an object's representation)."""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from jinja2 import Template, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_RANGE = 1_000  # items one range() may yield
MAX_STEPS = 50_000  # loop iterations and calls in one render
MAX_CALL_DEPTH = 40  # nested calls (a recursive macro stops here)
MAX_OUTPUT = 20_000  # characters a render may produce
MAX_CPU_SECONDS = 1.0  # CPU time of the rendering thread (never wall time: load-independent)
MAX_EXPONENT = 64.0
MAX_INT_BITS = 4096  # integers a template may build (no repeated squaring to a huge number)
# Filters that only transform values and cannot be asked for unbounded work.
FILTERS = (
    "abs", "capitalize", "default", "d", "first", "float", "int", "last", "length", "count",
    "lower", "upper", "max", "min", "round", "reverse", "sort", "sum", "title", "trim", "unique",
    "list", "dictsort", "join", "select", "reject", "selectattr", "rejectattr", "map", "items",
)
SAFE_ATTRIBUTES = frozenset({"items", "keys", "values", "get"})
_ADDRESS = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")


class BudgetExceeded(SecurityError):
    """A template asked for more than its budget (loops, calls, nesting, size or CPU time)."""


class _Budget(threading.local):
    """The running render's counters (one render per thread at a time)."""

    deadline = math.inf
    steps = 0
    depth = 0


_budget = _Budget()


def _step() -> None:
    _budget.steps += 1
    if _budget.steps > MAX_STEPS:
        raise BudgetExceeded(f"template does more than {MAX_STEPS:,} steps")
    if time.thread_time() > _budget.deadline:
        raise BudgetExceeded(f"template needs more than {MAX_CPU_SECONDS:g} s of CPU time")


def _range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise BudgetExceeded(f"range() of more than {MAX_RANGE:,} items")
    for number in numbers:
        _step()
        yield number


def _loop_guard(items: Any) -> Iterator[Any]:
    """Every for-loop iterates through here: each iteration is one step of the budget."""
    for item in items:
        _step()
        yield item


def _concat_guard(*parts: Any) -> str:
    """`a ~ b`: values only, and never longer than the output budget."""
    text = "".join(_string(part) for part in parts)
    if len(text) > MAX_OUTPUT:
        raise BudgetExceeded(f"template builds a value over {MAX_OUTPUT:,} long")
    return text


def _join(items: Any, separator: str = "") -> str:
    return _concat_guard(*_interleave(list(items), str(separator)))


def _interleave(items: list[Any], separator: str) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(items):
        out.extend((separator, item) if i else (item,))
    return out


def _sum(items: Any, start: float = 0) -> float:
    total = float(start)
    for item in items:
        if not isinstance(item, int | float):
            raise SecurityError("sum takes numbers")
        total += item
    return total


class _Guards(NodeTransformer):
    """Rewrites loops and `~` to go through the budgeted guards (names a template can't bind)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guarded("loop_guard", [node.iter], node)  # type: ignore[list-item]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guarded("concat_guard", list(node.nodes), node)


def _guarded(name: str, args: list[nodes.Expr], where: nodes.Node) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), args, [], None, None)
    call.set_lineno(where.lineno)
    return call


def printable(value: Any) -> Any:
    """What `{{ ... }}` may print: strings, numbers, booleans and None; nothing else."""
    if value is None or isinstance(value, str | int | float | bool | Undefined):
        return value
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, str | int | float | bool) for v in value
    ):
        return ", ".join(str(v) for v in value)
    return "[not printable]"


def _string(value: Any) -> str:
    shown = printable(value)
    return "" if isinstance(shown, Undefined) else str(shown)


class BudgetedSandbox(SandboxedEnvironment):
    """A SandboxedEnvironment whose every call, loop and arithmetic result is bounded."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=Undefined, finalize=printable)
        kept = {name: self.filters[name] for name in FILTERS if name in self.filters}
        self.filters.clear()
        self.filters.update(kept, string=_string, join=_join, sum=_sum)
        self.globals.clear()
        self.globals["range"] = _range
        self.loop_guard = _loop_guard
        self.concat_guard = _concat_guard

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        guarded = _Guards().visit(tree)
        assert isinstance(guarded, nodes.Template)
        guarded.set_environment(self)
        return guarded

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """A mapping's items/keys/values/get and a loop's counters: no string methods, no
        object internals."""
        if isinstance(obj, LoopContext):
            return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)
        return isinstance(obj, dict) and attr in SAFE_ATTRIBUTES

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call counted against the budget, nested at most MAX_CALL_DEPTH deep."""
        _step()
        if _budget.depth >= MAX_CALL_DEPTH:
            raise BudgetExceeded(f"template calls nest more than {MAX_CALL_DEPTH} deep")
        _budget.depth += 1
        try:
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            _budget.depth -= 1

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Arithmetic that cannot build huge strings or numbers."""
        _step()
        if operator == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed in a template")
        if operator == "*" and isinstance(left, str | list) != isinstance(right, str | list):
            size, times = (left, right) if isinstance(left, str | list) else (right, left)
            if isinstance(times, int) and len(size) * max(times, 0) > MAX_OUTPUT:
                raise BudgetExceeded(f"template builds a value over {MAX_OUTPUT:,} long")
        if operator == "**":
            if not all(isinstance(v, int | float) for v in (left, right)):
                raise SecurityError("** takes numbers")
            if abs(right) > MAX_EXPONENT:
                raise BudgetExceeded(f"** with an exponent over {MAX_EXPONENT:g}")
            return float(left) ** float(right)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise BudgetExceeded(f"template builds a number over {MAX_INT_BITS} bits")
        if isinstance(result, str | list) and len(result) > MAX_OUTPUT:
            raise BudgetExceeded(f"template builds a value over {MAX_OUTPUT:,} long")
        return result


SANDBOX = BudgetedSandbox()


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return SANDBOX.from_string(source)


def render_bounded(source: str, context: dict[str, Any]) -> str:
    """Render `source` in the sandbox within the budget; raise TemplateError (BudgetExceeded
    when a limit is hit), never RecursionError or an endless loop."""
    outer = (_budget.deadline, _budget.steps, _budget.depth)
    _budget.deadline, _budget.steps, _budget.depth = time.thread_time() + MAX_CPU_SECONDS, 0, 0
    try:
        template = _compiled(source)
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            _step()
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise BudgetExceeded(f"template output over {MAX_OUTPUT:,} characters")
            parts.append(chunk)
        return _ADDRESS.sub("[not printable]", "".join(parts))
    except RecursionError:
        raise BudgetExceeded("template nests too deeply") from None
    except MemoryError:
        raise BudgetExceeded("template needs too much memory") from None
    finally:
        _budget.deadline, _budget.steps, _budget.depth = outer


__all__ = ["SANDBOX", "BudgetExceeded", "BudgetedSandbox", "TemplateError", "render_bounded"]
