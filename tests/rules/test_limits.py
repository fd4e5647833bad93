"""The rules budget (issue 13 item 3): each attack of the audit is a clear RulesError at load,
fast, never a traceback, and a template cannot loop, recurse or print an object."""

from __future__ import annotations

import time

import pytest

from rules import RulesError, load_rules
from rules.explain import number, render_template
from rules.trial import trial

BASE = """\
series:
  r: {id: R}
metrics:
%s
rules:
  - id: x
    title: X
    when: %s
%s
"""


def _refused(text: str, *words: str) -> str:
    started = time.monotonic()
    with pytest.raises(RulesError) as caught:
        load_rules(text, "limits.yaml")
    assert time.monotonic() - started < 2.0
    message = "\n".join(str(p) for p in caught.value.problems)
    assert all(w in message for w in words), message
    return message


@pytest.mark.parametrize(("when", "words"), [
    ("'(1e300 ** 8) > r'", ('rule "x"', "too large")),
    ("'(1e15 ** 8) ** 8 > r'", ('rule "x"', "numeric overflow")),
    ("\"pct_change(r, '1000y') > 0\"", ('rule "x"', "longer than 100 years")),
    ("\"mean(r, '1000y') > 0\"", ('rule "x"', "longer than 100 years")),
    ("'r > " + "9" * 400 + "'", ('rule "x"', "too large")),
])
def test_overflow_periods_and_literals_are_load_errors_naming_the_rule(
    when: str, words: tuple[str, ...]
) -> None:
    _refused(BASE % ("  m0: r", when, ""), *words)


def test_a_500_metric_chain_and_a_2000_metric_cycle_are_clear_errors() -> None:
    chain = "\n".join(f"  m{i}: m{i - 1} + 1" if i else "  m0: r" for i in range(500))
    _refused(BASE % (chain, "m499 > 0", ""), "chain more than 100 deep")
    cycle = "\n".join(f"  m{i}: m{(i + 1) % 2000} + 1" for i in range(2000))
    _refused(BASE % (cycle, "m0 > 0", ""), "2,000 metrics (at most 1,000)")
    cycle = "\n".join(f"  m{i}: m{(i + 1) % 900} + 1" for i in range(900))
    _refused(BASE % (cycle, "m0 > 0", ""), "circular definition")


def test_a_yaml_alias_bomb_is_refused_at_once() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bomb = "\n".join(lines) + "\n"
    assert len(bomb) < 700
    _refused(bomb, "YAML expands to more than 100,000 nodes")
    _refused("a: &a [*a]\n", "YAML")
    _refused("[" * 50_000 + "]" * 50_000, "YAML nests deeper than 64 levels")


@pytest.mark.parametrize(("template", "words"), [
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "calls nest more than 40 deep"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
     "range() of more than 1,000"),
    ("{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}",
     "more than 50,000 steps"),
    ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f(\"x\") }}", "over 20,000 long"),
])
def test_template_recursion_loops_and_size_are_bounded_at_load(template: str, words: str) -> None:
    _refused(BASE % ("  m0: r", "r > 0", f"    explain: '{template}'"), "over its budget", words)
    started = time.monotonic()
    assert "explanation template failed" in render_template(template, "en", {"num": number})
    assert time.monotonic() - started < 2.0


def test_a_template_prints_values_never_object_representations() -> None:
    text = render_template(
        "{{ num }}|{{ values }}|{{ self }}|{{ num ~ '' }}|{{ [num]|join }}|{{ num|string }}|"
        "{{ value }}|{{ values.cut }}", "en", {"num": number, "values": {"cut": -0.5},
                                              "value": 1.5})
    assert " at 0x" not in text and "<" not in text and "function" not in text
    assert text.endswith("|1.5|-0.5") and text.count("[not printable]") == 6


def test_a_file_that_loads_is_evaluated_over_a_synthetic_history_by_the_trial() -> None:
    ruleset = load_rules(BASE % ("  m0: r", "'(r ** 8) > 1 and pct_change(r, \"100y\") < 5'", ""))
    assert trial(ruleset) == []
