"""`cyclewatch dashboard [--data DIR]`: the service's read-only web dashboard on
CYCLEWATCH_HTTP_ADDR, without the bot (no scheduler, no chats, nothing fetched)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:  # the app and pandas load only when the command runs, not for --help
    import pandas as pd

    from bot.app.http import Handler
    from bot.evaluate.insight import Insight
    from rules import RuleSet

EXAMPLE = "cyclewatch dashboard --data ../shared/data"
SUMMARY = "serve the read-only web dashboard on CYCLEWATCH_HTTP_ADDR, without the bot"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
               make: Callable[..., argparse.ArgumentParser],
               *options: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `dashboard` subcommand: `make(sub, name, summary, example)`, then each option."""
    parser = make(sub, "dashboard", SUMMARY, EXAMPLE)
    for option in options:
        option(parser)


def _say(message: str) -> None:
    print(f"cyclewatch: {message}", file=sys.stderr, flush=True)


def _today() -> date:
    return datetime.now(UTC).date()


def file_insight(ruleset: RuleSet, data: Mapping[str, pd.Series]) -> Insight:
    """An Insight over series read once from files (their version never changes)."""
    from bot.evaluate.insight import Insight, frame_version

    version = frame_version(data)
    return Insight(ruleset, lambda: data, lambda: version)


def _insight(ruleset: RuleSet, data_dir: Path | None, settings: Settings) -> Insight:
    from bot.cli.rules import read_data_dir
    from bot.evaluate.insight import Insight

    if data_dir is not None:
        return file_insight(ruleset, read_data_dir(ruleset, data_dir, warn=_say))
    from bot.store import Store

    return Insight.from_store(ruleset, Store(settings.db_url))


def dashboard_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the dashboard until Ctrl-C; 1 when the rules, data or port are unusable."""
    data_dir: Path | None = getattr(args, "data", None) or settings.data_dir
    if data_dir is not None and not data_dir.is_dir():
        _say(f"--data {data_dir}: not a directory")
        return 1
    from bot.app.dashboard import DashboardModel, DashboardRoutes
    from bot.cli.rules import read_rules
    from rules import RulesError

    rules_path: Path = getattr(args, "rules", None) or settings.rules_path
    try:
        ruleset = read_rules(rules_path)
    except RulesError as err:
        for problem in err.problems:
            print(problem)
        return 1
    except OSError as err:
        _say(f"cannot read rules file {rules_path}: {err.strerror or err}")
        return 1
    started = time.perf_counter()
    model = DashboardModel(_insight(ruleset, data_dir, settings), _today)
    model.warm()  # the first view is served from the cache
    _say(f"dashboard ready in {time.perf_counter() - started:.1f} s")
    token = settings.dashboard_token
    routes = DashboardRoutes(lambda: model, token.get_secret_value() if token else None)
    return asyncio.run(serve(routes.routes(), settings.http_addr))


async def serve(pages: Mapping[str, Handler], addr: str) -> int:
    """Serve `pages` on `addr` until SIGINT or SIGTERM; print the URL once listening."""
    from bot.app.health import Health
    from bot.app.http import HttpServer, build_app
    from bot.runtime.metrics import Metrics

    app = build_app(lambda: Health(True, {"status": "ok"}), Metrics(), pages=pages)
    server = HttpServer(app, addr)
    try:
        await server.start()
    except OSError as err:
        _say(str(err))
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = f"[{server.host}]" if ":" in server.host else server.host
    print(f"cyclewatch dashboard: http://{host}:{server.bound_port}/", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
