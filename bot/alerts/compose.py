"""The render stage: the message for routed rows, in the target chat's language. One row is one
alert (a resolve answers its firing message); several rows of one evaluation are one grouped
message; held rows that came due are one digest. A row that is not an alert fails with why.

Quiet hours: inside a chat's window an alert goes out silently (`silent`) or is handed back
due when the window ends (`hold`); a severity that breaks through rings as ever.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.alerts.claims import Job, OutboxRows
from bot.alerts.digest import compose_held, readable
from bot.alerts.outcomes import Outcomes
from bot.alerts.payload import BRIEFING, AlertPayload
from bot.alerts.quiet import chat_zone, hold
from bot.alerts.render import render_alert, render_group
from bot.alerts.routing import Target
from bot.notifiers.base import Message
from bot.runtime.clock import Clock
from bot.store.schema import OutboxStatus
from rules import Transition

ChartFor = Callable[[AlertPayload, str], bytes | None]  # the alert, the chat's language
NumbersFor = Callable[[AlertPayload, str], list[str]]  # the seed's numbers that bear on it


@dataclass(frozen=True)
class Composed:
    """The message to send and the rows it carries (those left out have their end)."""

    message: Message
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class OneByOne:
    """These rows go out each as its own alert (quiet hours, or too few left to group)."""

    jobs: tuple[Job, ...]


Compose = Callable[[Target, tuple[Job, ...]], Awaitable[Composed | OneByOne | None]]


class Composer:
    """Composes the messages of one worker's claims (quiet hours hand them back as theirs)."""

    def __init__(
        self, rows: OutboxRows, outcomes: Outcomes, clock: Clock,
        chart_for: ChartFor | None = None, numbers_for: NumbersFor | None = None,
    ) -> None:
        self.rows = rows
        self.outcomes = outcomes
        self.clock = clock
        self.chart_for = chart_for
        self.numbers_for = numbers_for

    async def alert(self, target: Target, jobs: tuple[Job, ...]) -> Composed | None:
        """One row's alert with its chart, answering the firing message when it resolves, and
        silent inside quiet hours that quiet it; None when it cannot be read or they hold it."""
        alerts = await self._readable(jobs)
        if not alerts:
            return None
        [(job, alert)] = alerts
        if await self._hold_if_quiet(job, target, alert.severity):
            return None
        replaces: tuple[str, ...] = ()
        if alert.state is Transition.RESOLVED:
            replaces = await asyncio.to_thread(self.rows.firing_message_ids, job, alert.rule)
        chart = await self._chart(alert, target.lang)
        numbers = await self._numbers([alert], target.lang) if alert.state is \
            Transition.FIRING else []
        message = render_alert(alert, target.lang, replaces=replaces, chart_png=chart,
                               numbers=numbers, zone=target.chat.tz if target.chat else None)
        chat = target.chat
        if chat is not None and chat.quiet is not None:
            silent = chat.quiet.quiets(alert.severity, self.clock(), chat_zone(chat))
            message = dataclasses.replace(message, silent=silent)
        return Composed(message, jobs)

    async def group(self, target: Target, jobs: tuple[Job, ...]) -> Composed | OneByOne:
        """Several rows of one evaluation as one message (oldest observation first, the first
        one's chart); inside quiet hours, or with fewer than two alerts, one by one."""
        alerts = await self._readable(jobs)
        if ((target.chat is not None and target.chat.quiet is not None) or len(alerts) < 2
                or any(a.rule == BRIEFING for _, a in alerts)):  # the briefing goes alone
            return OneByOne(tuple(job for job, _ in alerts))
        chart = await self._chart(alerts[0][1], target.lang)
        firing = [a for _, a in alerts if a.state is Transition.FIRING]
        message = render_group([a for _, a in alerts], target.lang, chart_png=chart,
                               numbers=await self._numbers(firing, target.lang))
        return Composed(message, tuple(job for job, _ in alerts))

    def held(self, happened: Mapping[int, datetime]) -> Compose:
        """Composes one chat's held rows, now due, as one digest, each with when it happened;
        a row the window holds again (it was changed while they waited) is handed back."""
        async def compose(target: Target, jobs: tuple[Job, ...]) -> Composed | None:
            due = [(job, alert) for job, alert in await self._readable(jobs)
                   if not await self._hold_if_quiet(job, target, alert.severity)]
            if not due:
                return None
            if len(due) == 1 and due[0][1].rule == BRIEFING:  # held alone: sent as itself
                job, alert = due[0]
                return Composed(render_alert(alert, target.lang,
                                             chart_png=await self._chart(alert, target.lang),
                                             zone=target.chat.tz if target.chat else None),
                                (job,))
            message = compose_held([(a, happened[j.id]) for j, a in due], target.lang,
                                   chat_zone(target.chat))
            return Composed(message, tuple(job for job, _ in due))
        return compose

    async def _readable(self, jobs: Sequence[Job]) -> list[tuple[Job, AlertPayload]]:
        """The rows' alerts, oldest observation first; a row that is not one fails with why."""
        good, bad = readable(list(jobs))
        for job in bad:
            try:  # read again for the problem's words
                AlertPayload.from_payload(job.payload)
            except ValueError as err:
                await self.outcomes.finish(job, OutboxStatus.FAILED,
                                           f"cannot render the alert: {err}")
        return good

    async def _hold_if_quiet(self, job: Job, target: Target, severity: str) -> bool:
        """Inside the chat's quiet hours that hold `severity`: hand the row back, due when
        they end."""
        chat = target.chat
        if chat is None or chat.quiet is None:
            return False
        until = chat.quiet.holds(severity, self.clock(), chat_zone(chat))
        if until is None:
            return False
        await asyncio.to_thread(hold, self.rows.engine, self.rows.owner, job.id, until)
        return True

    async def _numbers(self, alerts: Sequence[AlertPayload], lang: str) -> list[str]:
        """The seed's numbers the alerts bear on, each line once (none without `numbers_for`)."""
        if self.numbers_for is None:
            return []
        found: dict[str, None] = {}
        for alert in alerts:
            found.update(dict.fromkeys(await asyncio.to_thread(self.numbers_for, alert, lang)))
        return list(found)

    async def _chart(self, alert: AlertPayload, lang: str) -> bytes | None:
        return await asyncio.to_thread(self.chart_for, alert, lang) if self.chart_for else None
