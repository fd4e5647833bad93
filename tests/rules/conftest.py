"""Fixtures for the rule engine tests: the shipped rules_tests.yaml beside the rules (the
rules and the real history themselves are the session's, in tests/conftest.py)."""

from __future__ import annotations

from tests.conftest import REPO, RULES_FILE

DEFAULT_RULES = RULES_FILE
SHIPPED_TESTS = REPO / "rules_tests.yaml"
