"""Loader problems: each reported with its position, all at once."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from rules import RulesError, load_rules

HASH_BEFORE_OPTIONS = "a0be6c2c88e1d80b"  # computed with the loader before source options


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


class _Url(BaseModel):
    """A stand-in options schema: one required key, nothing else."""

    model_config = ConfigDict(extra="forbid")
    url: str
    every: int = 1


SCHEMAS = {"fred": None, "web": _Url}


def source_problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(text, "r.yaml", sources=SCHEMAS)
    return [str(p) for p in caught.value.problems]


def test_source_names_and_options_are_checked_against_the_given_schemas() -> None:
    text = """\
series:
  a: {source: web, id: A, ulr: "https://x"}
  b: {source: wbe, id: B}
  c: {id: C, frsh: 4w}
  d: {source: web, id: D, url: "https://x", every: soon}
rules:
  - id: r
    title: T
    when: "a > 0 and b > 0 and c > 0 and d > 0"
"""
    assert source_problems(text) == [
        'r.yaml:2:6: series "a": missing "url" (source web needs it)',
        'r.yaml:2:27: series "a": unknown key "ulr" (did you mean "url"?)',
        'r.yaml:3:15: series "b": unknown source "wbe" (did you mean "web"?)',
        'r.yaml:4:14: series "c": unknown key "frsh" (did you mean "fresh"?)',
        'r.yaml:5:52: series "d": every: Input should be a valid integer, unable to parse '
        "string as an integer",
    ]


def test_options_reach_the_series_and_without_schemas_anything_goes() -> None:
    text = """\
series:
  a: {source: web, id: A, url: "https://x", every: 2}
rules:
  - id: r
    title: T
    when: "a > 0"
"""
    checked = load_rules(text, "r.yaml", sources=SCHEMAS)
    assert checked.series["a"].options == {"url": "https://x", "every": 2}
    assert checked.inputs[0].spec.options["url"] == "https://x"
    free = load_rules(text.replace("web", "anything"), "r.yaml")
    assert free.series["a"].source == "anything"


def test_a_series_without_options_hashes_as_before() -> None:
    text = "series:\n  x: {id: X}\nrules:\n  - id: r\n    title: T\n    when: \"x > 1\"\n"
    # The definition hash of this rule before source options existed.
    assert load_rules(text, "r.yaml").rules[0].definition_hash == HASH_BEFORE_OPTIONS


def test_until_is_a_date_and_keeps_other_series_hashes() -> None:
    ok = load_rules("series:\n  x: {id: X, until: 2023-09-01}\n  y: {id: Y}\nrules: []\n")
    assert str(ok.series["x"].until) == "2023-09-01"
    assert ok.series["y"].until is None
    (line,) = problems("series:\n  x: {id: X, until: someday}\nrules: []\n")
    assert line.startswith("r.yaml:2:") and "until" in line
