"""A notifier wrapper that counts deliveries by outcome and times each send (Prometheus)."""

from __future__ import annotations

import time

from bot.notifiers.base import DeliveryError, Message, Notifier, Sent
from bot.runtime.metrics import Metrics


def outcome_of(err: DeliveryError) -> str:
    """The `outcome` label of a failed send, from the error's flags."""
    if err.retryable:
        return "retry"
    if err.blocked:
        return "blocked"
    if err.malformed:
        return "malformed"
    return "migrated" if err.migrated_to else "failed"


class MeteredNotifier:
    """Wraps a notifier to count deliveries by outcome and time each send."""

    def __init__(self, inner: Notifier, metrics: Metrics) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.metrics = metrics
        # The wrapped notifier's overall rate, when it declares one (sizes outbox batches).
        self.rate_per_second: float | None = getattr(inner, "rate_per_second", None)

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Send through the wrapped notifier, recording the outcome."""
        started = time.monotonic()
        try:
            sent = await self.inner.send(chat_id, message)
        except DeliveryError as err:
            self.metrics.deliveries.labels(self.platform, outcome_of(err)).inc()
            if err.retryable:
                self.metrics.delivery_retries.labels(self.platform).inc()
            raise
        finally:
            self.metrics.delivery_seconds.observe(time.monotonic() - started)
        self.metrics.deliveries.labels(self.platform, "sent").inc()
        return sent
