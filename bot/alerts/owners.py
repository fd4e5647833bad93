"""Who claims outbox rows: a process's name (`host:pid:start`), and whether the claimer of
this host that a name stands for still runs."""

from __future__ import annotations

import os
import secrets
import socket

# Unique per process start: a restarted container often gets the same pid (1) again.
_START = secrets.token_hex(4)


def worker_id() -> str:
    """This process's name in outbox claims: `host:pid:start` (see `release_dead`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_START}"


def owner_is_dead(owner: str, host: str) -> bool:
    """Whether the claimer `owner` (`host:pid[:start]`) of this host no longer runs."""
    rest = owner.removeprefix(f"{host}:")
    pid_text, _, start = rest.partition(":")
    if pid_text == str(os.getpid()):
        return start != _START  # our pid, an earlier start: a restart reusing the pid
    return not _alive(pid_text)


def _alive(pid_text: str) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):  # not a pid we can judge, or someone else's: alive
        return True
    return True
