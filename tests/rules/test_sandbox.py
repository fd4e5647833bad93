"""Rule files are configuration, never code: hostile expressions and templates are refused."""

from __future__ import annotations

import pandas as pd
import pytest

from rules import RulesError, backtest, load_rules

BASE = """
series:
  x: {source: fred, id: X}
rules:
  - id: r
    title: R
    when: %s
"""


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os') == 0", 'unknown function "__import__"'),
        ("__builtins__ > 0", '"__builtins__": names starting with "_"'),
        ("__import__('os').system('true')", 'method ".system" is not allowed'),
        ("().__class__", "attribute access not allowed"),
        ("x.__class__", "attribute access not allowed"),
        ("x.shift.__globals__", "attribute access not allowed"),
        ("x.values", "attribute access not allowed"),
        ("(lambda: 1)() > 0", "only whitelisted functions may be called"),
        ("[v for v in x]", "comprehensions not allowed"),
        ("x ** 999999999", "** needs a constant exponent of at most 8"),
        ("x ** x", "** needs a constant exponent"),
        ("open('/etc/passwd')", 'unknown function "open"'),
        ("eval('1')", 'unknown function "eval"'),
        ("x[0] > 1", "subscripts not allowed"),
        ("x if x else x", "if-else not allowed"),
        ("change(x, 'forever')", "is not a period"),
        ("shift(x, -3) > 0", "expected a positive whole number"),
        ("change(x, n=4) > 0", "keyword arguments are not allowed"),
        ("'text' > 1", "is not a number here"),
        ("(y := 1)", "assignment not allowed"),
        ("x >", "syntax error"),
        ("(" * 300 + "x" + ")" * 300, "too"),
    ],
)
def test_hostile_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(BASE % repr(expression).replace("\\\\", "\\"), "evil.yaml")
    assert len(caught.value.problems) == 1
    assert message in caught.value.problems[0].message
    assert caught.value.problems[0].line == 7


def test_template_cannot_reach_python_internals() -> None:
    rules = load_rules(
        BASE % '"x > 0"' + '    explain: "{{ value.__class__.__mro__ }} {{ num.__globals__ }}"\n',
        "t.yaml",
    )
    x = pd.Series([1.0, 2.0], index=pd.date_range("2020-01-01", periods=2))
    (event,) = backtest(rules, {"X": x})
    _, text = event.render("en")
    assert "explanation template failed" in text
    assert "mro" not in text and "builtins" not in text


def test_template_syntax_errors_are_reported_by_check() -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(BASE % '"x > 0"' + '    explain: "{{ value "\n', "t.yaml")
    assert "template error" in str(caught.value)
