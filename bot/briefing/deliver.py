"""The weekly briefing into the outbox: once an H.4.1 is public and evaluated, one event row
(`BRIEFING`, dated the H.4.1's Wednesday: stored once, whatever restarts) and one outbox row
per chat with `/briefing weekly`, through the pipeline's own stages (mute, quiet hours,
enqueue), so delivery is the alerts' own: exactly once, held or silent in quiet hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.alerts.payload import BRIEFING
from bot.alerts.pipeline import Recipient, drop_muted, enqueue, store_payload
from bot.alerts.quiet import held_until
from bot.briefing.facts import Briefing, briefing, latest_week, release_instant
from bot.briefing.text import render
from bot.evaluate.insight import Insight
from bot.i18n import LANGUAGES
from bot.ingest.calendar import ReleaseCalendar
from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.quiet import zone
from bot.store.schema import events

SEVERITY = "info"  # quiet hours that hold info hold the briefing; a milestone break-through not
# A briefing is news for a day: a service down longer skips it (the next H.4.1 brings its own).
LATE = timedelta(days=1)


def payload(found: Briefing, insight: Insight, default_zone: str,
            zones: set[str]) -> dict[str, Any]:
    """The stored briefing: texts in every language in `default_zone` (key `lang`), and in each
    chat's zone (key `lang@zone`, which `AlertPayload.text_in` prefers)."""
    texts: dict[str, dict[str, str]] = {}
    for key_zone in (None, *sorted(zones)):
        for lang in LANGUAGES:
            tz = zone(key_zone, default_zone)
            title, body = render(found, insight.ruleset, lang, tz)
            texts[f"{lang}@{key_zone}" if key_zone else lang] = {"title": title, "text": body}
    return {"rule": BRIEFING, "state": "firing", "date": found.week.isoformat(),
            "severity": SEVERITY, "title": texts["en"]["title"],
            "as_of": found.published.date().isoformat(),
            "announced": found.published.isoformat(), "texts": texts}


class Briefings:
    """Records the briefing of each H.4.1 once for the chats that want it."""

    def __init__(self, store: Store, insight: Callable[[], Insight | None], *,
                 default_zone: str = "America/New_York",
                 calendar: ReleaseCalendar | None = None) -> None:
        self.store = store
        self.insight = insight
        self.default_zone = default_zone
        self.calendar = calendar or ReleaseCalendar()
        self.subs = Subscriptions(store.engine)

    def _stored(self, week: date) -> bool:
        with self.store.engine.connect() as conn:
            return conn.execute(sa.select(events.c.id).where(
                events.c.rule_id == BRIEFING, events.c.obs_date == week)).first() is not None

    def record_due(self, now: datetime) -> int:
        """The briefing of the newest H.4.1 public at `now` (within a day of it), if not yet
        recorded and some chat wants it: 1 when recorded, else 0."""
        with self.store.engine.connect() as conn:  # cheap first: most evaluations need none
            wanted = self.subs.briefing_chats(conn)
        insight = self.insight() if wanted else None
        if insight is None:
            return 0
        week = latest_week(insight.data()[1], insight.ruleset, now)
        if week is None or now - release_instant(week) > LATE or self._stored(week):
            return 0
        found = briefing(insight, week, calendar=self.calendar, zone=self.default_zone)
        zones = {c.tz for c in wanted if c.tz}
        stored = payload(found, insight, self.default_zone, zones)
        with self.store.engine.begin() as conn:
            event_id = store_payload(conn, BRIEFING, "firing", week, SEVERITY, stored, now)
            if event_id is None:
                return 0  # another process recorded it meanwhile
            chats = drop_muted(conn, {Recipient(c.platform, c.chat_id) for c in wanted},
                               BRIEFING, now)
            enqueue(conn, event_id, chats, now, held_until(conn, chats, SEVERITY, now))
        return 1
