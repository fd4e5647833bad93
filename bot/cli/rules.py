"""`cyclewatch check | test | backtest | regime`: the rule engine on the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from rich.console import Console

from bot.config import Settings
from bot.evaluate.reload import trial_within_budget
from rules import (
    RulesError,
    RuleSet,
    load_rules,
)
from rules.loader import Problem
from rules.testing import TestOutcome, run_test_file
from sources.base import SourceError
from sources.limits import FetchLimits
from sources.registry import option_schemas
from sources.web import DEFAULT_LIMITS

TESTS_NAME = "rules_tests.yaml"


def say_error(message: str) -> None:
    """`cyclewatch: message` on stderr."""
    print(f"cyclewatch: {message}", file=sys.stderr)


def read_rules(path: Path, data_dir: Path | None = None, *, contained: bool = False) -> RuleSet:
    """Read and load a rules file; RulesError for problems in it, OSError if unreadable.
    `contained` also makes every local file a series names a problem unless it lies under
    `data_dir`, else the rules file's folder (sources/local.py)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RulesError([_problem(path, f"not UTF-8 text: {err.reason}")]) from None
    if not contained:
        return load_rules(text, str(path), sources=option_schemas())
    root, folder = ((data_dir, "the data directory") if data_dir is not None
                    else (path.resolve().parent, "the rules file's folder"))
    return load_rules(text, str(path), sources=option_schemas(root, folder))


def _problem(path: Path, message: str) -> Problem:
    return Problem(str(path), 1, 1, message)


def rules_file(args: argparse.Namespace, settings: Settings) -> Path:
    """`--rules FILE`, else the configured rules file."""
    path: Path | None = getattr(args, "rules", None)
    return path if path is not None else settings.rules_path


def load_or_report(path: Path, data_dir: Path | None = None, *,
                   contained: bool = False) -> RuleSet | None:
    """The rules file loaded (see `read_rules`), or None after printing its problems."""
    try:
        return read_rules(path, data_dir, contained=contained)
    except RulesError as err:
        for problem in err.problems:
            print(problem)
        return None
    except OSError as err:
        say_error(f"cannot read rules file {path}: {err.strerror or err}")
        return None


def load_data(
    ruleset: RuleSet, args: argparse.Namespace, settings: Settings
) -> dict[str, pd.Series]:
    """Every input series: from `--data DIR` (offline files) or else from the store."""
    data_dir: Path | None = getattr(args, "data", None) or settings.data_dir
    ids = sorted({item.id for item in ruleset.inputs})
    if data_dir is not None:
        from bot.app.sources import fetch_limits

        return read_data_dir(ruleset, data_dir, warn=say_error, limits=fetch_limits(settings))
    from bot.store import Store

    store = Store(settings.db_url)
    try:
        return store.frame(ids, vintage=getattr(args, "vintage", "latest") or "latest")
    finally:
        store.close()


def read_data_dir(
    ruleset: RuleSet, data_dir: Path, warn: Callable[[str], None] | None = None,
    limits: FetchLimits = DEFAULT_LIMITS,
) -> dict[str, pd.Series]:
    """Every input the directory holds: FRED-format files, and `source: csv` series read
    through the csv source (their paths relative to the directory). Absent ones are left out."""
    from sources.files import FileSource

    files = FileSource(data_dir)
    data: dict[str, pd.Series] = {}
    csv_specs = {i.id: i.spec for i in ruleset.inputs if i.source == "csv"}
    for series_id in sorted({item.id for item in ruleset.inputs} - csv_specs.keys()):
        try:
            data[series_id] = files.fetch(series_id).values
        except SourceError as err:
            if "no " not in err.message and warn is not None:
                warn(f"warning: {err}")
    if csv_specs:
        import httpx

        from sources.csv import CsvSource

        with httpx.Client() as client:
            reader = CsvSource(client, lambda sid: csv_specs[sid].options, base_dir=data_dir,
                               offline=True, limits=limits)
            for series_id in sorted(csv_specs):
                try:
                    data[series_id] = reader.fetch(series_id).values
                except SourceError as err:
                    if warn is not None:
                        warn(f"warning: {err}")
    return data


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    """Validate a rules file: exit 1 and print every problem as file:line:col: message.

    With `--data DIR`, also list each rule and gauge that would be skipped for "no data"
    (an input series the directory lacks) rather than silently never firing. The file is then
    evaluated over that history (a synthetic one without `--data`) within a budget of CPU
    time, exactly as a reload does: a rule that fails there, or a file over the budget, is a
    problem too.
    """
    path = rules_file(args, settings)
    ruleset = load_or_report(path, getattr(args, "data", None) or settings.data_dir,
                             contained=True)
    if ruleset is None:
        return 1
    print(
        f"{path}: OK ({len(ruleset.rules)} rules, {len(ruleset.series)} series, "
        f"{len(ruleset.gauges)} regime gauges)"
    )
    data: dict[str, pd.Series] | None = None
    if getattr(args, "data", None) is not None:
        data = data_or_report(ruleset, args, settings)
        if data is None:
            return 1
        for line in no_data_report(ruleset, data):
            print(line)
    # Evaluated over that history (a synthetic one without --data) within a budget of CPU
    # time, never wall time, so a file that passes check does not fail at evaluation and the
    # verdict does not depend on how busy the machine is.
    problems = asyncio.run(trial_within_budget(ruleset, data))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def no_data_report(ruleset: RuleSet, data: Mapping[str, pd.Series]) -> list[str]:
    """'skipped rule_id: no data for name (ID)' for each rule or gauge with an absent input."""
    absent = {
        item.name
        for item in ruleset.inputs
        if data.get(item.id, data.get(item.name)) is None
        or data.get(item.id, data.get(item.name, pd.Series(dtype="float64"))).empty
    }
    lines = []
    things = [("rule", r.id, r.inputs) for r in ruleset.rules]
    things += [("gauge", g.spec.id, g.inputs) for g in ruleset.gauges]
    for kind, thing_id, inputs in things:
        lacking = sorted(inputs & absent)
        if lacking:
            names = ", ".join(f"{n} ({ruleset.series[n].source}:{ruleset.series[n].id})"
                              for n in lacking)
            lines.append(f"skipped {kind} {thing_id}: no data for {names}")
    return lines


def test_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run promtool-style rule unit tests (default: rules_tests.yaml beside the rules file)."""
    rules_path = rules_file(args, settings)
    files: list[Path] = list(args.testfiles) or [rules_path.parent / TESTS_NAME]
    failed = 0
    for test_path in files:
        try:
            outcomes = run_test_file(
                test_path.read_text(encoding="utf-8"),
                str(test_path),
                _resolver(test_path, rules_path),
            )
        except RulesError as err:
            for problem in err.problems:
                print(problem)
            failed += 1
            continue
        except (OSError, UnicodeDecodeError) as err:
            say_error(f"cannot read test file {test_path}: {err}")
            failed += 1
            continue
        failed += _print_outcomes(test_path, outcomes)
    return 1 if failed else 0


def _resolver(test_path: Path, default: Path) -> Callable[[str | None], RuleSet]:
    def resolve(name: str | None) -> RuleSet:
        path = default if name is None else (test_path.parent / name)
        return read_rules(path)

    return resolve


def _print_outcomes(path: Path, outcomes: list[TestOutcome]) -> int:
    failed = 0
    for outcome in outcomes:
        mark = "PASS" if outcome.passed else "FAIL"
        print(f"{mark} {path}: {outcome.name}")
        for line in outcome.problems:
            print(f"    {line}")
        failed += not outcome.passed
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return failed


def data_or_report(
    ruleset: RuleSet, args: argparse.Namespace, settings: Settings
) -> dict[str, pd.Series] | None:
    """The input series (see `load_data`), or None after saying why there are none."""
    try:
        data = load_data(ruleset, args, settings)
    except SourceError as err:
        say_error(str(err))
        return None
    if not data:
        say_error("no data for any input series: run `cyclewatch fetch`, or pass --data DIR")
    return data


def console() -> Console:
    """A console at least 120 columns wide, so tables stay readable when piped."""
    found = Console()
    return Console(width=max(found.width, 120)) if not found.is_terminal else found


def data_summary(data: Mapping[str, pd.Series]) -> str:
    """One line: how many series and the newest date among them."""
    newest = max((s.index.max() for s in data.values() if not s.empty), default=None)
    return f"{len(data)} series, newest {newest.date() if newest is not None else 'none'}"
