"""The Apprise notifier: one Apprise service per target URL (Discord, Matrix, e-mail, ntfy,
Pushover, Teams, JSON, ...). Each message is rendered in the service's own format, its chart
attached where the service takes files; a failed send is retried by the delivery worker and an
outage is logged once per target by the outage latch."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from apprise import Apprise, AppriseAttachment, NotifyFormat, NotifyType
from apprise.attachment.memory import AttachMemory
from apprise.plugins.base import NotifyBase

from bot.notifiers.base import DeliveryError, Message, Sent
from bot.platforms.apprise.render import render_body, render_title
from bot.platforms.apprise.targets import PLATFORM_NAME, AppriseTarget
from bot.runtime.latch import OutageLatch

log = logging.getLogger("cyclewatch.apprise")
_KINDS = {"milestone": NotifyType.FAILURE, "warning": NotifyType.WARNING,
          "info": NotifyType.INFO}


def notify_type(message: Message) -> NotifyType:
    """Apprise's kind of notice (its colour or icon): resolved alerts are a success."""
    if message.tags.get("state") == "resolved":
        return NotifyType.SUCCESS
    return _KINDS.get(message.tags.get("severity", ""), NotifyType.INFO)


def build_service(url: str) -> NotifyBase:
    """The Apprise service for one URL; ValueError (without the URL, it holds a token) when
    Apprise knows no such service or the URL is incomplete."""
    service = Apprise.instantiate(url)
    if not isinstance(service, NotifyBase):
        raise ValueError(f"Apprise cannot use a {url.split('://', 1)[0]}:// URL "
                         "(unknown service or missing parts)")
    return service


class AppriseNotifier:
    """Sends to the Apprise target a chat id stands for (see `targets.parse_targets`)."""

    platform = PLATFORM_NAME

    def __init__(self, targets: Sequence[AppriseTarget]) -> None:
        # Apprise's DEBUG lines carry each service's full URL, token included.
        logging.getLogger("apprise").setLevel(max(logging.INFO,
                                                  logging.getLogger("apprise").level))
        self.services = {t.chat_id: build_service(t.url) for t in targets}
        self.latches = {
            chat_id: OutageLatch(f"Apprise {service.url(privacy=True)}", log)  # type: ignore[no-untyped-call]
            for chat_id, service in self.services.items()
        }

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Render, attach, send through Apprise (a blocking call, in a thread)."""
        service = self.services.get(chat_id)
        if service is None:  # a URL removed from the setting: its chat ends, not retries
            raise DeliveryError(f"no Apprise URL for {chat_id} any more", blocked=True)
        fmt = str(service.notify_format.value)
        attach = None
        if message.chart_png and service.attachment_support and not message.plain:
            chart = AttachMemory(  # type: ignore[no-untyped-call]
                content=message.chart_png, name="chart.png", mimetype="image/png")
            attach = AppriseAttachment([chart])
        ok = await asyncio.to_thread(
            service.notify, body=render_body(message, fmt), title=render_title(message, fmt),
            notify_type=notify_type(message), body_format=NotifyFormat(fmt), attach=attach)
        latch = self.latches[chat_id]
        if not ok:
            # Apprise says only that the service refused or was unreachable (its log line has
            # the status): every failure is retried with backoff until the outbox gives up.
            latch.failed(f"the {service.service_name} service did not take the alert")
            raise DeliveryError(f"Apprise {service.service_name} send failed", retryable=True)
        latch.recovered()
        return Sent((f"apprise-{uuid.uuid4().hex[:12]}",))
