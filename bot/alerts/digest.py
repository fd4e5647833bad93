"""The catch-up digest: at start, a chat with several alerts waiting (created while the bot was
down, or left undelivered) gets them as ONE message; the outbox rows are marked sent together.
`compose_held` is the other digest: what a chat's quiet hours held, sent when they end.

The rows are claimed with the delivery worker's own claim (`OutboxRows.claim`), so the digest
and a worker never both own a row. A failed digest puts the rows back to pending, so the
worker sends them one by one: nothing is dropped, and a row already sent is never in a digest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.alerts.claims import Job, OutboxRows
from bot.alerts.payload import AlertPayload
from bot.alerts.quiet import chat_zone, hold
from bot.alerts.render import render_alert
from bot.i18n import text, when
from bot.notifiers.base import Message, Notifier
from bot.runtime.clock import Clock
from bot.store import Store
from bot.store.chats import Subscriptions

log = logging.getLogger("cyclewatch.digest")
MAX_BODY = 12_000  # notifiers split long text; keep a digest to a few platform messages


def _within(body: str) -> str:
    return body if len(body) <= MAX_BODY else body[:MAX_BODY].rsplit("\n", 1)[0] + "\n…"


def compose(alerts: list[AlertPayload], lang: str) -> Message:
    """One message listing every alert, in the order given (oldest observation first)."""
    parts = []
    for alert in alerts:
        message = render_alert(alert, lang)
        parts.append(f"{message.title}\n{message.body}")
    title = text(lang, "digest_title", count=len(alerts))
    return Message(title=title, body=_within("\n\n".join(parts)),
                   tags={"digest": str(len(alerts))})


def compose_held(
    alerts: Sequence[tuple[AlertPayload, datetime]], lang: str, tz: ZoneInfo
) -> Message:
    """What quiet hours held, oldest first, each with when it happened in the chat's zone."""
    ordered = sorted(alerts, key=lambda pair: pair[1])
    parts = []
    for alert, at in ordered:
        message = render_alert(alert, lang, zone=tz.key)
        parts.append(f"{text(lang, 'held_at', when=when(lang, at, tz))}\n"
                     f"{message.title}\n{message.body}")
    title = (text(lang, "held_title_one") if len(ordered) == 1 else
             text(lang, "held_title", count=len(ordered)))
    return Message(title=title, body=_within("\n\n".join(parts)),
                   tags={"held": str(len(ordered))})


def readable(jobs: list[Job]) -> tuple[list[tuple[Job, AlertPayload]], list[Job]]:
    """The jobs whose payload is an alert, oldest observation first; and the others."""
    good, bad = [], []
    for job in jobs:
        try:
            good.append((job, AlertPayload.from_payload(job.payload)))
        except ValueError:
            bad.append(job)
    good.sort(key=lambda pair: (pair[1].date, pair[0].id))
    return good, bad


async def send_digests(
    store: Store, notifiers: Mapping[str, Notifier], worker_id: str,
    clock: Clock,
) -> int:
    """Send one digest per crowded chat; return how many alerts went out in digests."""
    rows = OutboxRows(store.engine, worker_id)
    subs = Subscriptions(store.engine)
    sent_alerts = digests = 0
    for platform, chat_id in await asyncio.to_thread(rows.crowded, clock()):
        notifier = notifiers.get(platform)
        if notifier is None:
            continue
        jobs = await asyncio.to_thread(rows.claim, clock(), limit=None, chat=(platform, chat_id))
        jobs = await asyncio.to_thread(_not_held, store, subs, rows, jobs, clock())
        alerts, unreadable = readable(jobs)
        if len(alerts) < 2:  # a worker took the others meanwhile: it sends these one by one
            unreadable = jobs
        if unreadable:  # the worker records why a row cannot be rendered
            await asyncio.to_thread(rows.release, clock(), [job.id for job in unreadable])
        if len(alerts) < 2:
            continue
        ids = [job.id for job, _ in alerts]
        chat = await asyncio.to_thread(subs.find, platform, chat_id)
        lang = chat.lang if chat is not None else "en"
        message = compose([alert for _, alert in alerts], lang)
        if chat is not None and chat.quiet is not None:
            quiet, now = chat.quiet, clock()
            silent = all(quiet.quiets(a.severity, now, chat_zone(chat)) for _, a in alerts)
            message = dataclasses.replace(message, silent=silent)
        try:
            sent = await notifier.send(chat_id, message)
        except Exception as err:  # DeliveryError or worse: the worker sends them one by one
            log.warning("digest to %s:%s not sent (%s); sending the alerts one by one",
                        platform, chat_id, err)
            await asyncio.to_thread(rows.release, clock(), ids)
            continue
        await asyncio.to_thread(rows.mark_sent, ids, sent, clock())
        sent_alerts += len(ids)
        digests += 1
    if sent_alerts:
        log.info("catch-up: %d alert(s) sent as %d digest(s)", sent_alerts, digests)
    return sent_alerts


def _not_held(
    store: Store, subs: Subscriptions, rows: OutboxRows, jobs: list[Job], now: datetime
) -> list[Job]:
    """Hand back, held until their window ends, the claimed rows the chat's quiet hours hold."""
    if not jobs:
        return jobs
    chat = subs.find(jobs[0].platform, jobs[0].chat_id)
    if chat is None or chat.quiet is None:
        return jobs
    kept = []
    for job in jobs:
        severity = str(job.payload.get("severity") or "milestone")
        until = chat.quiet.holds(severity, now, chat_zone(chat))
        if until is None:
            kept.append(job)
        else:
            hold(store.engine, rows.owner, job.id, until)
    return kept
