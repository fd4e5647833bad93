"""The rules examples in docs/rules.md are what `cyclewatch check` accepts: a newcomer copies
them first (the csv example once said `units: $/oz`, which the loader refuses)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules import load_rules
from sources.registry import option_schemas

REPO = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "rules.md").read_text(), re.S)
# a whole file has a filled `series:` and `rules:` (the page's outline of the keys has neither)
FILES = [b for b in BLOCKS if all(re.search(rf"^{k}:\n ", b, re.M) for k in ("series", "rules"))]
RULES = [b for b in BLOCKS if b.startswith(("  - id:", "  # ")) and "\n  - id:" in "\n" + b]


def test_the_page_has_examples_of_both_kinds() -> None:
    assert FILES and RULES


@pytest.mark.parametrize("text", FILES, ids=lambda t: t.split("\n", 2)[1].strip()[:40])
def test_a_whole_example_file_loads(text: str) -> None:
    load_rules(text, "docs/rules.md", option_schemas())


@pytest.mark.parametrize("text", RULES, ids=lambda t: re.findall(r"- id: (\w+)", t)[0])
def test_an_example_rule_loads_beside_the_default_rules(text: str) -> None:
    shipped = (REPO / "rules.yaml").read_text()
    load_rules(shipped.replace("\nrules:\n", "\nrules:\n" + text, 1), "rules.yaml+docs",
               option_schemas())
