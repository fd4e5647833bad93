"""Loader problems: each reported with its position, all at once."""

from __future__ import annotations

import pytest

from rules import RulesError, load_rules


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(text, "r.yaml")
    return [str(p) for p in caught.value.problems]


def test_yaml_syntax_error_has_a_position() -> None:
    (line,) = problems("series:\n  x: {id: X\nrules: []\n")
    assert line.startswith("r.yaml:3:")
    assert "YAML" in line


def test_duplicate_keys_are_reported() -> None:
    assert problems("series:\n  x: {id: X}\n  x: {id: Y}\n") == ['r.yaml:3:3: duplicate key "x"']


def test_structure_and_expression_problems_together() -> None:
    text = """\
series:
  x: {id: X, lag: soon}
metrics:
  a: "b + 1"
  b: "a * 2"
rules:
  - id: Bad-Id
    title: {fr: bonjour}
    when: "x > 1"
    for: 0
  - id: uses_rule
    title: T
    on: y
    when: >-
      x > 1
      and bad_rul > 0
"""
    lines = problems(text)
    joined = "\n".join(lines)
    assert "r.yaml:2:19: series \"x\": series.x.lag: Value error, 'soon' is not a period" in joined
    assert "r.yaml:7:9: " in joined and "should match pattern" in joined
    assert "r.yaml:8:17: " in joined and "should be 'en' or 'zh'" in joined
    assert "r.yaml:10:10: " in joined and "greater than or equal to 1" in joined
    assert 'r.yaml:16:11: rule "uses_rule": unknown series "bad_rul"' in joined
    # structure problems stop the name checks that need a valid file, nothing else
    assert len(lines) == 5


def test_names_cycles_and_clock_series() -> None:
    text = """\
series:
  x: {id: X}
metrics:
  a: "b + 1"
  b: "a * 2"
rules:
  - id: r
    title: T
    on: y
    when: "a > 1"
  - id: x
    title: Same name as a series
    when: "x > 1"
"""
    joined = "\n".join(problems(text))
    assert "r.yaml:4:6: circular definition: a -> b -> a" in joined
    assert 'r.yaml:9:9: rule "r": unknown series "y"' in joined
    assert 'r.yaml:11:9: rule "x": id already used by a series' in joined


def test_on_key_is_not_a_boolean_and_titles_fall_back() -> None:
    ruleset = load_rules(
        "series:\n  x: {id: X}\nrules:\n  - id: r\n    title: {en: Hello}\n    on: x\n"
        "    when: x > 1\n",
        "r.yaml",
    )
    assert ruleset.rule("r").spec.on == "x"
    assert [(i.name, i.source, i.id) for i in ruleset.inputs] == [("x", "fred", "X")]
