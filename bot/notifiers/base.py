"""What every notifier offers, and the one error kind it raises.

Error tree (the delivery worker decides what to do from the flags, never from the text)::

    DeliveryError
    ├── retryable=True, retry_after=N   429 / flood control: wait N seconds, then resend
    ├── retryable=True                  5xx, timeouts, connection errors: back off, resend
    ├── blocked=True                    the user blocked the bot / left: deactivate the chat
    ├── migrated_to="<id>"              a group became a supergroup: resend to the new id
    ├── malformed=True                  the platform refused the markup: resend as plain text
    └── (no flag)                       permanent: record the error, do not retry
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Button:
    """An inline button on an alert (Telegram inline keyboard / Slack button)."""

    label: str
    action: str  # e.g. "mute:qt_ends:7d", "why:qt_ends" (Telegram callback_data ≤ 64 bytes)


@dataclass(frozen=True)
class Message:
    """One platform-neutral message: a title, a body of plain paragraphs, an optional chart.

    Notifiers do their own escaping, splitting and layout (HTML for Telegram, Block Kit for
    Slack); `body` is plain text with paragraphs separated by blank lines.
    """

    title: str
    body: str
    chart_png: bytes | None = None
    buttons: tuple[Button, ...] = ()
    plain: bool = False  # send without markup (fallback after a malformed-markup refusal)
    silent: bool = False  # quiet hours: deliver without ringing (Telegram disable_notification)
    # On resolve, edit the platform's earlier message for the same alert when it can
    # (Slack chat.update); the ids are those recorded when the firing alert was sent.
    replaces: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sent:
    """The platform's ids for what was sent (several when a long message was split)."""

    message_ids: tuple[str, ...]


class DeliveryError(Exception):
    """A send failed; the flags say how the delivery worker should react."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        blocked: bool = False,
        migrated_to: str | None = None,
        malformed: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable or retry_after is not None
        self.retry_after = retry_after
        self.blocked = blocked
        self.migrated_to = migrated_to
        self.malformed = malformed


class Notifier(Protocol):
    """Sends one message to one chat on one platform."""

    platform: str

    async def send(self, chat_id: str, message: Message) -> Sent:
        """Deliver `message`; raise DeliveryError on failure."""
        ...
