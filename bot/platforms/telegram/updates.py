"""Reading updates (getUpdates answers, webhook requests) so that one unreadable update
cannot block Telegram intake: it is logged once, counted and acknowledged."""

from __future__ import annotations

import json
import logging
import re
import weakref
from collections.abc import Callable
from typing import Any

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest

from bot.runtime.latch import OutageLatch

log = logging.getLogger("bot.platforms.telegram.frontend")


class _QuietInvalidToken(logging.Filter):
    """Drop python-telegram-bot's traceback for a rejected token: the service reports it
    itself, as one line naming the variable (and retries slowly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record carrying an InvalidToken."""
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, InvalidToken)


logging.getLogger("telegram.ext").addFilter(_QuietInvalidToken())


class UpdateReader(HTTPXRequest):
    """The getUpdates connection: an update the library cannot read becomes a bare
    `{"update_id": n}`, so polling acknowledges it and moves on instead of re-reading it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skipped = 0
        self.on_skip: Callable[[], None] | None = None
        self.latch = OutageLatch("Telegram getUpdates", log)
        self.on_unauthorized: Callable[[], None] | None = None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """The HTTP exchange; a 401 (the token was revoked) is told to the front end, since
        python-telegram-bot then ends polling for good instead of calling its error callback."""
        code, payload = await super().do_request(*args, **kwargs)
        if code == 401 and self.on_unauthorized is not None:
            self.on_unauthorized()
        return code, payload

    def parse_json_payload(self, payload: bytes) -> Any:  # type: ignore[override]
        """The answer, with unreadable updates emptied (logged once each, by id)."""
        answer = HTTPXRequest.parse_json_payload(payload)
        self.latch.recovered()
        result = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(result, list):
            answer["result"] = [self._readable(item) for item in result]
        return answer

    def _readable(self, item: object) -> object:
        try:
            Update.de_json(item, None)  # type: ignore[arg-type]
            return item
        except Exception as err:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                raise TelegramError("update without an update_id") from err
            self.skipped += 1
            log_skipped(update_id, err)
            if self.on_skip is not None:
                self.on_skip()
            return {"update_id": update_id}


def log_skipped(update_id: object, err: Exception) -> None:
    """The one line for an update the client library cannot read (polling or webhook)."""
    log.warning("telegram update %s skipped: the client library cannot read it (%s: %s); it "
                "is acknowledged", update_id, type(err).__name__, json.dumps(str(err))[:120])


def webhook_update(body: bytes, bot: Bot) -> Update | None:
    """The update a webhook request carries; None (logged once) when it cannot be read, so
    the request is still acknowledged and Telegram does not send it again."""
    try:
        data = json.loads(body)
        update = Update.de_json(data, bot)
    except Exception as err:  # anything the library cannot read is skipped, as in polling
        found = re.search(rb'"update_id"\s*:\s*(\d+)', body[:4096])
        log_skipped(int(found[1]) if found else "without an update_id", err)
        return None
    return update


READERS: weakref.WeakKeyDictionary[Any, UpdateReader] = weakref.WeakKeyDictionary()
