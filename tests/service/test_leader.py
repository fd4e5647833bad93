"""Leader election on PostgreSQL: one leader; a follower takes over when it goes."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from bot.runtime.leader import Leadership, libpq_url

pytestmark = pytest.mark.postgres


async def becomes_leader(candidate: Leadership, seconds: float = 5.0) -> bool:
    """Check every 0.1 s (the server frees a dead session's lock once its backend exits)."""
    for _ in range(int(seconds / 0.1)):
        if await candidate.check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_one_leader_and_takeover_after_release(pg_url: str) -> None:
    first, second = Leadership(pg_url), Leadership(pg_url)
    try:
        assert await first.check() is True
        assert await second.check() is False
        assert await first.check() is True  # re-check confirms the lock is still ours
        await first.release()
        assert await second.check() is True
        assert await first.check() is False
    finally:
        await first.release()
        await second.release()


async def test_leader_whose_connection_dies_steps_down_and_follower_takes_over(
    pg_url: str,
) -> None:
    first, second = Leadership(pg_url), Leadership(pg_url)
    try:
        assert await first.check() is True
        with psycopg.connect(libpq_url(pg_url), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'cyclewatch-leader'"
            )
        assert await first.check() is False  # its connection is gone: no longer sure
        assert await becomes_leader(second)
        assert await first.check() is False  # reconnects, but the lock is taken
    finally:
        await first.release()
        await second.release()


async def test_sqlite_is_always_the_single_leader(sqlite_url: str) -> None:
    only = Leadership(sqlite_url)
    assert only.is_leader and await only.check()


async def test_unreachable_database_means_follower_not_crash() -> None:
    nowhere = Leadership("postgresql+psycopg://u:secretpw@127.0.0.1:1/db", timeout=1)
    assert await nowhere.check() is False
