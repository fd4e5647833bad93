"""The operator kit: every exported metric is documented in docs/operations.md, and the
Prometheus alerting rules of docs/deploy/alerts.yml read real metrics, load in promtool and
fire as their unit tests say (skipped only where promtool is absent)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.runtime.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "docs" / "deploy"
SUFFIX = {"counter": "_total", "info": "_info"}


def exported() -> set[str]:
    """The name of each cyclewatch metric as /metrics shows it (counters with _total)."""
    metrics = Metrics()
    metrics.watch_series(lambda: [("WALCL", date(2026, 1, 7))], lambda: date(2026, 1, 8))
    return {family.name + SUFFIX.get(family.type, "")
            for family in metrics.registry.collect() if family.name.startswith("cyclewatch_")}


def test_every_metric_is_documented_and_every_alert_reads_a_real_one() -> None:
    names = exported()
    assert {"cyclewatch_rule_state", "cyclewatch_series_age_days",
            "cyclewatch_rule_failures_total", "cyclewatch_storage_retries_total",
            "cyclewatch_chat_rate_limited_total"} <= names
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert sorted(n for n in names if f"`{n}" not in operations) == []
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))
    read = {name for group in rules["groups"] for rule in group["rules"]
            for name in re.findall(r"cyclewatch_\w+", rule["expr"])}
    assert read and read <= names
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"CyclewatchSourceStale", "CyclewatchRuleFailing", "CyclewatchReloadFailed",
            "CyclewatchOutboxBackingUp", "CyclewatchPlatformDown"} <= alerts


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool absent (Debian's prometheus package)")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run(["promtool", *args], cwd=DEPLOY, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout
