"""Reading getUpdates answers so that one unreadable update cannot block Telegram intake."""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from bot.runtime.latch import OutageLatch

log = logging.getLogger("bot.platforms.telegram.frontend")


class UpdateReader(HTTPXRequest):
    """The getUpdates connection: an update the library cannot read becomes a bare
    `{"update_id": n}`, so polling acknowledges it and moves on instead of re-reading it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skipped = 0
        self.on_skip: Callable[[], None] | None = None
        self.latch = OutageLatch("Telegram getUpdates", log)

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
            log.warning("telegram update %d skipped: the client library cannot read it "
                        "(%s: %s); its offset is acknowledged", update_id,
                        type(err).__name__, json.dumps(str(err))[:120])
            if self.on_skip is not None:
                self.on_skip()
            return {"update_id": update_id}


READERS: weakref.WeakKeyDictionary[Any, UpdateReader] = weakref.WeakKeyDictionary()
