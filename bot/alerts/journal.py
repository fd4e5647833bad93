"""The sent journal: what this process sent and has not yet recorded in the outbox.

Marks are written to the database once per batch (`bot.alerts.claims`); between a send and
that commit, the send lives here, one line appended per message (a plain `write`, which a
kill -9 does not undo: the kernel keeps it). When the process dies, whoever takes back its
claims on this host reads its journal first and records those rows as sent instead of sending
them again; so a crash still repeats only the message in flight. One file per process
(`owner`), beside the SQLite database or under the state directory for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, unquote

log = logging.getLogger("cyclewatch.outbox")

Entry = tuple[int, tuple[str, ...]]  # an outbox row id, the platform's message ids


def journal_dir(db_url: str, state: Path) -> Path | None:
    """Where the journals of a database live: beside a SQLite file, else under `state`
    (None for an in-memory database: no other process can take its claims)."""
    if db_url.startswith("sqlite"):
        path = db_url.partition(":///")[2]
        if not path or path.startswith(":memory:"):
            return None
        return Path(path).expanduser().with_name(Path(path).name + ".sent")
    digest = hashlib.sha256(db_url.encode()).hexdigest()[:16]
    return state / "sent" / digest


def _path(directory: Path, owner: str) -> Path:
    return directory / f"{quote(owner, safe='')}.jsonl"


class SentJournal:
    """One process's journal; a write that fails is logged and the send kept in memory."""

    def __init__(self, directory: Path | None, owner: str) -> None:
        self.path = None if directory is None else _path(directory, owner)
        self._file: TextIO | None = None
        self._failed = False

    def note(self, entries: Sequence[Entry]) -> None:
        """Append these sends (one line each, written at once)."""
        if self.path is None or not entries:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8", buffering=1)
            self._file.write("".join(json.dumps([i, list(ids)]) + "\n" for i, ids in entries))
            self._failed = False
        except OSError as err:
            if not self._failed:  # once per spell: the database's own retries log the fault
                log.warning("cannot journal sent deliveries (%s); kept in memory", err)
            self._failed = True

    def clear(self) -> None:
        """Everything journaled is recorded in the database: the file goes (a journal exists
        only while some send is unrecorded, so none is left behind by a process that ends)."""
        self.close(remove=True)

    def close(self, *, remove: bool) -> None:
        """Close the file; remove it when nothing in it is still unrecorded."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if remove and self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
                self.path.parent.rmdir()  # when no other process's journal is in it


def read_journal(directory: Path | None, owner: str) -> list[Entry]:
    """The sends a (dead) process journaled; a torn last line is skipped."""
    if directory is None:
        return []
    try:
        lines = _path(directory, owner).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found: list[Entry] = []
    for line in lines:
        with contextlib.suppress(ValueError, TypeError):
            row_id, ids = json.loads(line)
            found.append((int(row_id), tuple(str(i) for i in ids)))
    return found


def journal_owners(directory: Path | None) -> list[str]:
    """The owners that have a journal in `directory`."""
    if directory is None or not directory.is_dir():
        return []
    return [unquote(path.name.removesuffix(".jsonl")) for path in directory.glob("*.jsonl")]


def drop_journal(directory: Path | None, owner: str) -> None:
    """Remove a dead process's journal once its sends are recorded."""
    if directory is not None:
        with contextlib.suppress(OSError):
            _path(directory, owner).unlink(missing_ok=True)
