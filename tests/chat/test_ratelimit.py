"""The token bucket: burst, refill on the injected clock, and bounded memory."""

from __future__ import annotations

from bot.chat.ratelimit import TokenBucket


def test_burst_then_refill() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=2, per_second=0.5, clock=lambda: now[0])
    assert [bucket.take("u") for _ in range(2)] == [0.0, 0.0]
    assert bucket.take("u") == 2.0
    now[0] += 1.0
    assert bucket.take("u") == 1.0  # half a token back, half to wait for
    now[0] += 1.0
    assert bucket.take("u") == 0.0


def test_idle_users_are_forgotten_but_busy_ones_are_not() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=1, per_second=1.0, clock=lambda: now[0], max_keys=10)
    for i in range(20):
        bucket.take(f"idle{i}")
    now[0] = 4.9
    assert bucket.take("busy") == 0.0
    now[0] = 5.0
    assert bucket.take("newcomer") == 0.0
    assert set(bucket._buckets) == {"busy", "newcomer"}
    assert bucket.take("busy") > 0  # still limited: its state was kept
