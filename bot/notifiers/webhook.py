"""A generic JSON webhook (CYCLEWATCH_WEBHOOK_URL): one POST per alert, with clear errors.

Body: {"chat_id", "title", "body", "tags", "replaces", "buttons": [{"label", "action"}],
"chart_png_base64"}. A JSON reply with "id" (or "ids") gives the message id(s) recorded.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import httpx

from bot.notifiers.base import DeliveryError, Message, Sent

PERMANENT_GONE = frozenset({404, 410})


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return 30.0


class WebhookNotifier:
    """POSTs each alert as JSON to one URL, through an injected httpx.AsyncClient."""

    platform = "webhook"

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"CYCLEWATCH_WEBHOOK_URL must be an http(s) URL, got {url!r}")
        self.client = client
        self.url = url
        self._ids = itertools.count(1)

    @staticmethod
    def body(chat_id: str, message: Message) -> dict[str, Any]:
        """The JSON document sent for `message`."""
        return {
            "chat_id": chat_id,
            "title": message.title,
            "body": message.body,
            "tags": dict(message.tags),
            "replaces": list(message.replaces),
            "buttons": [{"label": b.label, "action": b.action} for b in message.buttons],
            "chart_png_base64": (
                base64.b64encode(message.chart_png).decode() if message.chart_png else None
            ),
        }

    async def send(self, chat_id: str, message: Message) -> Sent:
        """POST the alert; map the HTTP outcome onto DeliveryError flags."""
        try:
            response = await self.client.post(self.url, json=self.body(chat_id, message))
        except httpx.TimeoutException as err:
            raise DeliveryError(f"webhook timed out: {err}", retryable=True) from err
        except httpx.TransportError as err:
            raise DeliveryError(f"webhook unreachable: {err}", retryable=True) from err
        status = response.status_code
        if status == 429:
            raise DeliveryError("webhook rate limited", retry_after=_retry_after(response))
        if status >= 500:
            raise DeliveryError(f"webhook server error {status}", retryable=True)
        if status in PERMANENT_GONE:
            raise DeliveryError(f"webhook endpoint gone ({status})", blocked=True)
        if status >= 400:
            raise DeliveryError(f"webhook refused the alert ({status}): {response.text[:200]}")
        return Sent(self._ids_from(response))

    def _ids_from(self, response: httpx.Response) -> tuple[str, ...]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("ids"), list):
                return tuple(str(i) for i in data["ids"])
            if data.get("id") is not None:
                return (str(data["id"]),)
        return (f"webhook-{next(self._ids)}",)
