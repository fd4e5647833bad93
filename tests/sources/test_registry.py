"""The source registry: one list that builds every source, routes series, gives the rules
loader its option schemas and the calendar its schedules; sources/ stays free of bot/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.ingest.calendar import DEFAULT_SCHEDULES, SourceSchedule
from rules import RulesError, load_rules
from sources.base import Source, SourceError, VintageSource
from sources.csv import CsvOptions
from sources.registry import REGISTRY, SourceContext, entry, option_schemas, polled, route

ROOT = Path(__file__).resolve().parents[2]


def test_every_entry_builds_a_source_from_a_context(tmp_path: Path) -> None:
    with httpx.Client() as http:
        ctx = SourceContext(http=http, data_dir=tmp_path, fred_api_key="a" * 32)
        for item in REGISTRY:
            built = item.build(ctx)
            assert isinstance(built, Source), item.name
        fred = entry("fred").build(ctx)
        assert isinstance(fred, VintageSource) and fred.supports_vintages
        keyless = entry("fred").build(SourceContext(http=http))
        assert isinstance(keyless, VintageSource) and not keyless.supports_vintages
        assert not isinstance(entry("csv").build(ctx), VintageSource)
        with pytest.raises(SourceError, match="needs a data directory"):
            entry("files").build(SourceContext(http=http))


def test_names_are_unique_and_schemas_come_from_the_entries() -> None:
    names = [e.name for e in REGISTRY]
    assert len(names) == len(set(names))
    assert set(names) == {"fred", "treasury", "fomc", "refunding", "files", "csv"}
    assert option_schemas()["csv"] is CsvOptions
    assert option_schemas()["fred"] is None


def test_routing_follows_the_rules_then_what_a_source_offers_then_fred() -> None:
    plan = route({"GOLD": "csv"}, ["GOLD", "WALCL", "bill_share", "fomc_decision"])
    assert plan == {"csv": ["GOLD"], "fred": ["WALCL"], "treasury": ["bill_share"],
                    "fomc": ["fomc_decision"]}
    assert polled(entry("fomc"), []) == ["fomc_decision", "fomc_target_lower",
                                         "fomc_target_upper"]
    assert polled(entry("treasury"), ["bill_share"]) == ["bill_share"]


def test_the_calendar_schedules_are_the_registry_hints() -> None:
    # The values the calendar hard-coded before the registry held them.
    assert (
        SourceSchedule(name="fred", kinds=("h41", "fomc", "daily"), window=timedelta(hours=2)),
        SourceSchedule(name="treasury", kinds=("mspd",), window=timedelta(hours=8),
                       fast_every=timedelta(minutes=10), safety_every=timedelta(hours=12)),
        SourceSchedule(name="fomc", kinds=("fomc",), window=timedelta(minutes=45),
                       fast_every=timedelta(seconds=30), rate_floor=timedelta(seconds=30)),
        SourceSchedule(name="refunding", kinds=("refunding_financing", "refunding_statement"),
                       window=timedelta(hours=2), fast_every=timedelta(minutes=1),
                       rate_floor=timedelta(seconds=30)),
    ) == DEFAULT_SCHEDULES


def test_the_shipped_rules_load_against_the_registry() -> None:
    text = (ROOT / "rules.yaml").read_text(encoding="utf-8")
    ruleset = load_rules(text, "rules.yaml", sources=option_schemas())
    assert {i.source for i in ruleset.inputs} <= set(option_schemas())
    with pytest.raises(RulesError, match='unknown source "fredx"'):
        load_rules(text.replace("source: fred,", "source: fredx,", 1), "rules.yaml",
                   sources=option_schemas())


def test_only_the_fred_adapter_knows_fred_source() -> None:
    offenders = []
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("sources/*.py")]:
        if path.name == "fred.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"isinstance\([^)]*FredSource", text) or ("from_settings(" in text \
                and path.parts[-2] == "sources"):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
