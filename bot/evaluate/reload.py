"""Hot reload of the rules file: validate the new text, then swap the whole rule set at once.

Before the swap the new file is evaluated over history (`history`, else a synthetic one)
within a budget of CPU time (rules/trial.py): a rule that would fail is a problem of the
file. A file with problems leaves the running rules in place; the problems (`file:line:col:
message`) go to the admins. A rule whose definition changed is caught up silently by the
evaluator (its definition hash differs), so its history is not announced again.

Budgets count work, never wall time, so a file gets the same verdict from `check`, the
watcher and `/reload`, on an idle or a saturated machine: loading (with reading the stored
history) and the trial each run in a daemon thread whose own CPU time is watched
(bot/runtime/cpulimit.py); past its budget the thread is stopped and the file refused. Any
exception while loading is a problem of that file, and the watch itself restarts after an
error until the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from watchfiles import Change, awatch

from bot.runtime.cpulimit import CpuBudgetExceeded, run_cpu_bounded
from rules import Problem, RulesError, RuleSet, load_rules
from rules.trial import TRIAL_CPU_SECONDS, over_budget, trial
from sources.registry import option_schemas

log = logging.getLogger("cyclewatch.reload")
# CPU seconds of its thread that loading a file (and reading the stored history for its
# trial) may take; rules/limits.py keeps a real file far below (rules.yaml: about 0.3 s).
LOAD_CPU_SECONDS = 10.0
# Not a budget of the file: how long reading the stored history may stay stuck on I/O (a
# database that does not answer) before the reload gives up, far beyond any busy machine.
STUCK_SECONDS = 600.0
T = TypeVar("T")
History = Callable[[RuleSet], Mapping[str, pd.Series]]


async def trial_within_budget(
    ruleset: RuleSet, data: Mapping[str, pd.Series] | None,
    cpu_seconds: float = TRIAL_CPU_SECONDS,
) -> list[Problem]:
    """The trial of rules/trial.py in its own thread, stopped once that thread has used
    `cpu_seconds` of CPU time: what `check` and every reload run, with the same words."""
    try:
        return await run_cpu_bounded(trial, ruleset, data, cpu_seconds, cpu_seconds=cpu_seconds)
    except CpuBudgetExceeded:
        return [over_budget(ruleset.filename, cpu_seconds)]


async def in_daemon_thread(fn: Callable[..., T], *args: Any, budget: float) -> T:
    """`fn(*args)` in a daemon thread; TimeoutError after `budget` s of wall time (the thread
    is left to finish on its own and never holds up the process's exit, unlike
    `asyncio.to_thread`). Not for verdicts on a rules file: those use CPU budgets."""
    return await asyncio.wait_for(run_cpu_bounded(fn, *args, cpu_seconds=math.inf), budget)


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: `ok`, the problems when not, and which rules changed when it did."""

    ok: bool
    problems: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged_file: bool = False

    def summary(self) -> str:
        """One message for the admins and the log."""
        if not self.ok:
            listed = "\n".join(self.problems)
            return f"rules not reloaded; the running rules stay in place:\n{listed}"
        if self.unchanged_file:
            return "rules file unchanged"
        parts = [f"{label}: {', '.join(ids)}" for label, ids in
                 (("added", self.added), ("removed", self.removed), ("changed", self.changed))
                 if ids]
        return "rules reloaded" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass
class RulesHolder:
    """The running rule set. Readers take `current` once per evaluation; reloads replace it."""

    path: Path
    current: RuleSet | None = None
    digest: str | None = None
    history: History | None = None  # for the trial run
    trial_cpu_seconds: float = TRIAL_CPU_SECONDS
    load_cpu_seconds: float = LOAD_CPU_SECONDS
    stuck_seconds: float = STUCK_SECONDS
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def load(self) -> RuleSet:
        """Load the file for the first time; raise RulesError or OSError when it is unusable."""
        text = self.path.read_text(encoding="utf-8")
        try:
            self.current = load_rules(text, str(self.path), option_schemas())
        except RulesError:
            raise
        except Exception as err:  # reported like any problem of the file
            problem = Problem(str(self.path), 1, 1, f"cannot load: {type(err).__name__}: {err}")
            raise RulesError([problem]) from err
        self.digest = _digest(text)
        return self.current

    def _load_with_history(self, text: str) -> tuple[RuleSet, Mapping[str, pd.Series] | None]:
        """The text loaded, and the stored history of its inputs for the trial (None:
        synthetic)."""
        fresh = load_rules(text, str(self.path), option_schemas())
        return fresh, self.history(fresh) if self.history is not None else None

    async def reload(self) -> ReloadResult:
        """Validate the file as it is now; swap it in only when every rule compiles."""
        async with self._lock:
            try:
                text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                return ReloadResult(ok=False, problems=(f"{self.path}: cannot read: {err}",))
            if _digest(text) == self.digest:
                return ReloadResult(ok=True, unchanged_file=True)
            try:  # a file that would fail at evaluation is refused like a broken one
                fresh, data = await asyncio.wait_for(run_cpu_bounded(
                    self._load_with_history, text, cpu_seconds=self.load_cpu_seconds),
                    self.stuck_seconds)
                problems = await trial_within_budget(fresh, data, self.trial_cpu_seconds)
            except RulesError as err:
                return ReloadResult(ok=False, problems=tuple(str(p) for p in err.problems))
            except CpuBudgetExceeded as err:
                return ReloadResult(ok=False, problems=(
                    f"{self.path}:1:1: loading needs {err}; abandoned",))
            except TimeoutError:
                return ReloadResult(ok=False, problems=(
                    f"{self.path}: the stored history was not read within {self.stuck_seconds:g} s "
                    "(is the database answering?); the file was not tried",))
            except Exception as err:  # a file must never take the watcher (or /reload) down
                return ReloadResult(ok=False, problems=(
                    f"{self.path}: cannot load: {type(err).__name__}: {str(err)[:300]}",))
            if problems:
                return ReloadResult(ok=False, problems=tuple(str(p) for p in problems))
            result = _compare(self.current, fresh)
            self.current, self.digest = fresh, _digest(text)
            return result


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _compare(old: RuleSet | None, new: RuleSet) -> ReloadResult:
    before = {r.id: r.definition_hash for r in old.rules} if old else {}
    after = {r.id: r.definition_hash for r in new.rules}
    return ReloadResult(
        ok=True,
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(sorted(k for k in after.keys() & before.keys() if after[k] != before[k])),
    )


Announce = Callable[[ReloadResult], Awaitable[None]]


async def watch_rules(
    holder: RulesHolder, announce: Announce, stop: asyncio.Event, *, debounce_ms: int = 300,
    retry_seconds: float = 5.0,
) -> None:
    """Reload whenever the file is written (editors that replace the file are covered too);
    survives any file and any error, until `stop` is set."""
    target = holder.path.resolve()

    def is_target(_change: Change, path: str) -> bool:
        return Path(path).resolve() == target

    while not stop.is_set():
        try:
            async for _changes in awatch(
                target.parent, watch_filter=is_target, stop_event=stop, debounce=debounce_ms,
                recursive=False,
            ):
                await _reload_once(holder, announce)
        except Exception as err:  # e.g. the directory vanished: look again a little later
            log.warning("watching %s: %s; trying again in %.0f s", target, err, retry_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_seconds)


async def _reload_once(holder: RulesHolder, announce: Announce) -> None:
    try:
        result = await holder.reload()
        if result.unchanged_file:
            return
        (log.info if result.ok else log.warning)("%s", result.summary())
        await announce(result)
    except Exception:  # the next save is still watched
        log.exception("rules reload failed")
