"""The send stage: one message, carrying one or more claimed rows, through the target's notifier.
Markup the platform refuses is resent once as plain text; a chat that migrated is followed once
(every row of the message with it) and the message resent to the new id. A notifier's bug is
an outcome like any error, so the rows are never lost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from bot.alerts.claims import Job, OutboxRows
from bot.alerts.migration import Moved, follow
from bot.alerts.outcomes import Outcome
from bot.alerts.routing import Target
from bot.notifiers.base import DeliveryError, Message

log = logging.getLogger("cyclewatch.outbox")


async def send(
    rows: OutboxRows, target: Target, jobs: Sequence[Job], message: Message
) -> Outcome | Moved:
    """The send's outcome; a `Moved` that is not `whole` when the chat moved to one that has
    some of these alerts already (those rows are recorded 'migrated'), so the message no
    longer fits the rows that moved."""
    chat_id, plain_tried, moved, carried = target.chat_id, False, target.moved, tuple(jobs)
    while True:
        try:
            return Outcome(chat_id, await target.notifier.send(chat_id, message), carried)
        except DeliveryError as err:
            if err.malformed and not plain_tried:
                plain_tried = True
                message = dataclasses.replace(message, plain=True, chart_png=None)
                continue
            if err.migrated_to and not moved:
                moved = True
                move = await follow(rows, carried, chat_id, err.migrated_to)
                if not move.whole:
                    return move
                chat_id, carried = move.chat_id, move.jobs
                continue
            return Outcome(chat_id, err, carried)
        except Exception as err:  # a notifier bug must not lose the alert
            log.exception("notifier %s raised an unexpected error", carried[0].platform)
            return Outcome(chat_id, err, carried)
