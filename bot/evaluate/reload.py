"""Hot reload of the rules file: validate the new text, then swap the whole rule set at once.

A file with problems leaves the running rules in place; the problems (`file:line:col:
message`) go to the admins. A rule whose definition changed is caught up silently by the
evaluator (its definition hash differs), so its history is not announced again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from rules import RulesError, RuleSet, load_rules
from sources.registry import option_schemas

log = logging.getLogger("cyclewatch.reload")


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
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def load(self) -> RuleSet:
        """Load the file for the first time; raise RulesError or OSError when it is unusable."""
        text = self.path.read_text(encoding="utf-8")
        self.current = load_rules(text, str(self.path), option_schemas())
        self.digest = _digest(text)
        return self.current

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
                fresh = await asyncio.to_thread(load_rules, text, str(self.path), option_schemas())
            except RulesError as err:
                return ReloadResult(ok=False, problems=tuple(str(p) for p in err.problems))
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
    holder: RulesHolder, announce: Announce, stop: asyncio.Event, *, debounce_ms: int = 300
) -> None:
    """Reload whenever the file is written (editors that replace the file are covered too)."""
    target = holder.path.resolve()

    def is_target(_change: Change, path: str) -> bool:
        return Path(path).resolve() == target

    async for _changes in awatch(
        target.parent, watch_filter=is_target, stop_event=stop, debounce=debounce_ms,
        recursive=False,
    ):
        result = await holder.reload()
        if result.unchanged_file:
            continue
        (log.info if result.ok else log.warning)("%s", result.summary())
        await announce(result)
