"""Thousands of mutated rule files: only RulesError ever escapes the loader."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import RulesError, load_rules
from tests.rules.conftest import DEFAULT_RULES

TEXT = DEFAULT_RULES.read_text(encoding="utf-8")
LINES = TEXT.splitlines()
SNIPPETS = [
    "",
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "&a",
    "*a",
    "!!python/object:os.system",
    "\t",
    "for: -1",
    "on: nope",
    "when: 1",
    "x: {id: }",
    "__import__",
    "..",
    "\x00",
    "\ufeff",
    "%",
    "rules:",
    "series: 3",
    "id: Bad-Id",
    "title: {fr: x}",
    "((((",
    "change(",
    "**9",
    "1e999",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "splice"]))
        at = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[at]
        elif kind == "insert":
            lines.insert(at, draw(st.sampled_from(SNIPPETS)))
        elif kind == "replace":
            col = draw(st.integers(0, max(0, len(lines[at]))))
            lines[at] = lines[at][:col] + draw(st.sampled_from(SNIPPETS)) + lines[at][col + 1 :]
        elif kind == "truncate":
            lines = lines[:at]
        else:
            lines[at] = draw(st.text(max_size=30))
        if not lines:
            lines = [""]
    return "\n".join(lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_raise_only_rules_error(text: str) -> None:
    try:
        ruleset = load_rules(text, "fuzz.yaml")
    except RulesError as err:
        assert err.problems
        assert all(p.line >= 1 and p.col >= 1 and p.message for p in err.problems)
    else:
        assert ruleset.rules is not None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_rules_error(text: str) -> None:
    try:
        load_rules(text, "fuzz.yaml")
    except RulesError as err:
        assert err.problems
