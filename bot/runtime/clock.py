"""The one clock type: every part that needs the time takes a `Clock`, so tests inject one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, aware UTC (the service's default clock)."""
    return datetime.now(UTC)
