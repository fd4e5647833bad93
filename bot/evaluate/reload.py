"""Hot reload of the rules file: validate the new text, then swap the whole rule set at once.

Before the swap the new file is evaluated over history (`history`, else a synthetic one)
within a time budget (rules/trial.py): a rule that would fail is a problem of the file.
A file with problems leaves the running rules in place; the problems (`file:line:col:
message`) go to the admins. A rule whose definition changed is caught up silently by the
evaluator (its definition hash differs), so its history is not announced again.

Nothing in a file stops the watcher: any exception while loading is a problem of that file,
a load that runs past `LOAD_BUDGET` is abandoned (in a daemon thread, so a stop never waits
for it), and the watch itself restarts after an error until the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from watchfiles import Change, awatch

from rules import Problem, RulesError, RuleSet, load_rules
from rules.trial import trial
from sources.registry import option_schemas

log = logging.getLogger("cyclewatch.reload")
LOAD_BUDGET = 20.0  # seconds a rules file may take to load
T = TypeVar("T")


async def in_daemon_thread(fn: Callable[..., T], *args: Any, budget: float) -> T:
    """`fn(*args)` in a daemon thread; TimeoutError after `budget` s (the thread is left to
    finish on its own and never holds up the process's exit, unlike `asyncio.to_thread`)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as err:  # handed to the awaiting task, whatever it is
            loop.call_soon_threadsafe(settle, None, err)
            return
        loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, daemon=True, name=f"cyclewatch-{fn.__name__}").start()
    return await asyncio.wait_for(future, budget)


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
    history: Callable[[RuleSet], Mapping[str, pd.Series]] | None = None  # for the trial run
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

    def _load_and_try(self, text: str) -> RuleSet:
        """Load the text, then evaluate it over history (stored, else synthetic) within the
        trial budget: a file that would fail at evaluation is refused like a broken one."""
        fresh = load_rules(text, str(self.path), option_schemas())
        data = self.history(fresh) if self.history is not None else None
        problems = trial(fresh, data)
        if problems:
            raise RulesError(problems)
        return fresh

    async def reload(self) -> ReloadResult:
        """Validate the file as it is now; swap it in only when every rule compiles."""
        async with self._lock:
            try:
                text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                return ReloadResult(ok=False, problems=(f"{self.path}: cannot read: {err}",))
            if _digest(text) == self.digest:
                return ReloadResult(ok=True, unchanged_file=True)
            try:
                fresh = await in_daemon_thread(self._load_and_try, text, budget=LOAD_BUDGET)
            except RulesError as err:
                return ReloadResult(ok=False, problems=tuple(str(p) for p in err.problems))
            except TimeoutError:
                return ReloadResult(ok=False, problems=(
                    f"{self.path}: loading took over {LOAD_BUDGET:.0f} s; abandoned",))
            except Exception as err:  # a file must never take the watcher (or /reload) down
                return ReloadResult(ok=False, problems=(
                    f"{self.path}: cannot load: {type(err).__name__}: {str(err)[:300]}",))
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
