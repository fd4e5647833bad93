"""Shared fixtures: the real history (read and evaluated once per session), clocks, and
databases (SQLite and PostgreSQL); and the tiers: what `slow` means, kept honest."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import certifi
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import settings

from bot.cli.dashboard import file_insight
from bot.cli.rules import read_data_dir, read_rules
from bot.evaluate.insight import Insight
from bot.store import Store
from rules import Event, RuleSet, backtest
from tests.pg import throwaway_cluster

REPO = Path(__file__).resolve().parents[1]
RULES_FILE = REPO / "rules.yaml"
# CI clones the repository with shared/ beside it: <parent>/shared/data.
_DEFAULT_HISTORY = REPO.parent / "shared" / "data"
HISTORY = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", _DEFAULT_HISTORY))
_db_counter = itertools.count()
# A port bound for the whole run and never listened on: a connection to it is refused at once,
# and no other test (nor another pytest-xdist worker) can take it meanwhile.
_REFUSING = socket.socket()
_REFUSING.bind(("127.0.0.1", 0))


def refused_url(path: str = "") -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    return f"http://127.0.0.1:{_REFUSING.getsockname()[1]}{path}"


def _one_certificate_bundle() -> Path:
    """Every httpx client loads the whole CA bundle when it is made (~20 ms of CPU; the suite
    makes hundreds), though no test speaks TLS (every fake is plain http on 127.0.0.1):
    SSL_CERT_FILE, which httpx and OpenSSL read, names a bundle of one real root instead, for
    this process and its children (0.5 ms a client)."""
    first = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n",
                      Path(certifi.where()).read_text(encoding="utf-8"), re.S)
    assert first is not None
    fd, name = tempfile.mkstemp(prefix="cyclewatch-tests-", suffix=".pem")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(first[0])
    os.environ["SSL_CERT_FILE"] = name
    os.environ.pop("SSL_CERT_DIR", None)
    return Path(name)


_BUNDLE = _one_certificate_bundle()
# A source's quick retries within one fetch wait 1 s first in production; the tests' fakes
# fail on purpose, and no test judges that wait (a server's Retry-After still wins).
os.environ.setdefault("CYCLEWATCH_SOURCE_RETRY_SECONDS", "0.02")


def pytest_unconfigure() -> None:
    """Remove this process's one-certificate bundle."""
    _BUNDLE.unlink(missing_ok=True)


# Property tests draw the same examples on every run (a red CI run can be repeated exactly);
# HYPOTHESIS_PROFILE=explore draws new ones, for a campaign of one's own.
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


# ---- the tiers: `slow` is every test that needs another process (an interpreter, a browser,
# the wheel build, a database server); `make test-fast` runs the rest (-m "not slow"). --------

# A test using one of these fixtures starts a process or a server: it is slow, marked here.
SLOW_FIXTURES = frozenset({"cli", "start_bot", "served", "pg_admin_url"})
# How a process is started, as the interpreter's audit events name it (sys.addaudithook).
_SPAWNS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.spawn", "os.exec", "os.fork",
                     "os.forkpty", "os.system"})
# matplotlib asks fontconfig once for the font list (a cold cache): not ours to mark.
_ALLOWED = frozenset({"fc-list"})
_running: list[pytest.Item] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that uses a process-starting fixture or PostgreSQL."""
    for item in items:
        if item.get_closest_marker("postgres") or SLOW_FIXTURES & set(
                getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _program(args: tuple[object, ...]) -> str:
    """The program's name from an audit event's arguments ((executable, argv, ...) or
    (command,)); '' when there is none (a fork)."""
    for arg in args[:2]:
        if isinstance(arg, list | tuple):
            arg = arg[0] if arg else None
        if isinstance(arg, str | bytes | os.PathLike) and os.fsdecode(arg).strip():
            return Path(os.fsdecode(arg).split()[0]).name
    return ""


def _spawn_guard(event: str, args: tuple[object, ...]) -> None:
    if event not in _SPAWNS or not _running or _running[0].get_closest_marker("slow"):
        return
    program = _program(args)
    if program in _ALLOWED:
        return
    raise RuntimeError(f"{_running[0].nodeid} starts a process ({event} {program!r}) but is "
                       "not marked slow: add @pytest.mark.slow (make test-fast must need none)")


sys.addaudithook(_spawn_guard)


def _guarded(item: pytest.Item) -> Generator[None, object, object]:
    _running[:] = [item]
    try:
        return (yield)
    finally:
        _running.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    """The guard watches a test's set-up and body (not its teardown, where a session's
    fixtures, e.g. the PostgreSQL cluster, may be stopped after any test)."""
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """The guard watches the test's body."""
    return (yield from _guarded(item))


@pytest.fixture(scope="session")
def history_dir() -> Path:
    """../shared/data: the real FRED and Treasury history (read-only)."""
    if not (HISTORY / "fred").is_dir():
        pytest.fail(f"history data not found at {HISTORY}; set CYCLEWATCH_HISTORY_DIR")
    return HISTORY


# ---- the real history: read once, evaluated once, shared by every test that only reads it ----

@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The repository's rules.yaml, loaded as the service loads it."""
    return read_rules(RULES_FILE)


@pytest.fixture(scope="session")
def history(ruleset: RuleSet, history_dir: Path) -> Mapping[str, pd.Series]:
    """Every input of the rules that ../shared/data holds, as `--data` reads it: FRED-format
    files and the `source: csv` series (gold, Shiller's S&P 500 and CAPE). Read-only."""
    return MappingProxyType(read_data_dir(ruleset, history_dir))


@pytest.fixture(scope="session")
def history_events(ruleset: RuleSet, history: Mapping[str, pd.Series]) -> tuple[Event, ...]:
    """Every transition of every rule over the whole history (the full backtest)."""
    return tuple(backtest(ruleset, dict(history)))


@pytest.fixture(scope="session")
def insight(ruleset: RuleSet, history: Mapping[str, pd.Series]) -> Insight:
    """The rules bridge over the history (shared: it caches per data version)."""
    return file_insight(ruleset, history)


@pytest.fixture(scope="session")
def files_history(ruleset: RuleSet, history: Mapping[str, pd.Series]) -> Mapping[str, pd.Series]:
    """The same read without the rules' `source: csv` series: the FRED-format and Treasury
    files alone (what the chat and platform tests were written against)."""
    web = {series.id for series in ruleset.inputs if series.source == "csv"}
    return MappingProxyType({k: v for k, v in history.items() if k not in web})


@pytest.fixture(scope="session")
def files_insight(ruleset: RuleSet, files_history: Mapping[str, pd.Series]) -> Insight:
    """The rules bridge over `files_history` (shared: it caches per data version)."""
    return file_insight(ruleset, files_history)


@pytest.fixture
def now() -> datetime:
    """A fixed instant for tests that need one."""
    return datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """The throwaway cluster's admin URL (started once per test run)."""
    with throwaway_cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"t_{os.getpid()}_{next(_db_counter)}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'cyclewatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head, once per process (the migrations take ~30 ms of CPU,
    a copy ~1 ms); `sqlite_store` copies it. Never opened again: a pristine template."""
    path = tmp_path_factory.mktemp("migrated") / "cyclewatch.db"
    Store(f"sqlite:///{path}").close()
    return path


def sqlite_store(url: str, template: Path) -> Store:
    """`Store(url)` of a new SQLite file, which starts as a copy of the migrated template (the
    same schema and revision the migrations give an empty file; `Store` still checks it)."""
    path = Path(sa.make_url(url).database or "")
    assert not path.exists(), path
    shutil.copyfile(template, path)
    return Store(url)


@pytest.fixture
def store(db_url: str, migrated_sqlite: Path) -> Iterator[Store]:
    """A migrated store on each engine."""
    s = sqlite_store(db_url, migrated_sqlite) if db_url.startswith("sqlite") else Store(db_url)
    yield s
    s.close()
