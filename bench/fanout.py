"""Fan-out benchmark: one alert to N Telegram subscribers against the fake Bot API that
enforces Telegram's limits (30 msg/s overall, 1 msg/s per chat), time-compressed by --scale.

Prints the achieved send rate as a share of the allowed rate (target >= 95%), lost and
duplicate counts, and the number of 429s the fake had to answer. Run:

    .venv/bin/python -m bench.fanout --subscribers 10000 --scale 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.notifiers.base import Button, DeliveryError, Message
from bot.notifiers.telegram import TelegramNotifier, TelegramRateLimiter
from tests.fakes.telegram import FakeTelegram

os.environ.setdefault("PTB_TIMEDELTA", "true")

ALERT = Message(
    title="Quantitative tightening has ended",
    body="The Fed's Treasury holdings rose for 2 weeks after 26 weeks of decline.",
    buttons=(Button("Mute 7d", "/mute qt_ends 7d"), Button("Why?", "/why qt_ends")),
)


async def notifier_only(notifier: TelegramNotifier, chats: list[str], workers: int) -> int:
    """Deliver to every chat with `workers` concurrent senders, honouring retry_after."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for chat in chats:
        queue.put_nowait(chat)
    retries = 0

    async def worker() -> None:
        nonlocal retries
        while not queue.empty():
            chat = queue.get_nowait()
            while True:
                try:
                    await notifier.send(chat, ALERT)
                    break
                except DeliveryError as err:
                    if not err.retryable:
                        raise
                    retries += 1
                    await asyncio.sleep(err.retry_after or 0.1)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return retries


async def run(subscribers: int, scale: float, workers: int) -> dict[str, float]:
    """One fan-out; returns the measured figures."""
    fake = await FakeTelegram(time_scale=scale).start()
    bot = Bot(fake.token, base_url=fake.base_url,
              request=HTTPXRequest(connection_pool_size=workers))
    notifier = TelegramNotifier(bot, limiter=TelegramRateLimiter(scale=scale))
    chats = [str(100_000 + i) for i in range(subscribers)]
    started = time.perf_counter()
    try:
        retries = await notifier_only(notifier, chats, workers)
    finally:
        elapsed = time.perf_counter() - started
        await notifier.close()
        await fake.close()
    counts = Counter({chat: len(fake.messages.get(chat, [])) for chat in chats})
    allowed = fake.overall_rate * scale
    return {
        "subscribers": subscribers, "scale": scale, "seconds": elapsed,
        "achieved_per_s": subscribers / elapsed, "allowed_per_s": allowed,
        "share_of_allowed": subscribers / elapsed / allowed,
        "lost": sum(1 for c in chats if counts[c] == 0),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "fake_429s": fake.rate_limited, "fake_429s_per_chat": fake.rate_limited_chat,
        "client_retries": retries,
    }


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=10.0, help="time compression")
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(run(args.subscribers, args.scale, args.workers))
    for key, value in result.items():
        print(f"{key:>18}: {value:.3f}" if isinstance(value, float) else f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
