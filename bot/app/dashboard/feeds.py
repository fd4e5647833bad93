"""The dashboard's feeds: every alert as Atom (`/feed.atom`, newest first, in en or zh) and
the coming releases with the rules each one checks as iCalendar (`/releases.ics`), from the
same renderer as the chats and the same calendar as /next."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from feedgen.feed import FeedGenerator
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from bot.alerts.payload import AlertPayload
from bot.alerts.render import render_alert
from bot.i18n import text
from bot.ingest.calendar import NEXT_KINDS, ReleaseCalendar
from rules import Event

FEED_ID = "urn:cyclewatch:alerts"
# /next's "refunding" is the next of two parts; the calendar lists both.
PARTS = {"refunding": ("refunding_financing", "refunding_statement")}
RELEASE_MINUTES = 30  # a release is an instant; calendars show it as a short slot
CALENDAR_DAYS = 120  # a quarter and some: every kind, the quarterly refunding too


def _when(event: Event) -> datetime:
    return event.announced or datetime.combine(event.date, time(0), tzinfo=UTC)


def alerts_atom(events: Sequence[Event], lang: str, base_url: str) -> bytes:
    """Every event as an Atom entry in `lang`, newest first, linking to the page that day."""
    feed = FeedGenerator()
    feed.id(f"{FEED_ID}:{lang}")
    feed.title(text(lang, "feed_title"))
    feed.subtitle(text(lang, "feed_subtitle"))
    feed.language(lang)
    feed.link(href=f"{base_url}/feed.atom?lang={lang}", rel="self")
    feed.link(href=f"{base_url}/?lang={lang}", rel="alternate")
    newest = sorted(events, key=lambda e: (_when(e), e.rule_id), reverse=True)
    feed.updated(_when(newest[0]) if newest else datetime(1970, 1, 1, tzinfo=UTC))
    for event in newest:
        message = render_alert(AlertPayload.from_event(event), lang)
        entry = feed.add_entry(order="append")
        entry.id(f"urn:cyclewatch:alert:{event.rule_id}:{event.state}:{event.date.isoformat()}")
        entry.title(message.title)
        entry.content(message.body, type="text")
        entry.updated(_when(event))
        entry.published(_when(event))
        entry.link(href=f"{base_url}/?lang={lang}&as_of={event.date.isoformat()}")
        entry.category(term=message.tags.get("severity", "milestone"))
    body: bytes = feed.atom_str(pretty=True)
    return body


def releases_ics(calendar: ReleaseCalendar, checks: Mapping[str, list[str]], today: date,
                 lang: str, days: int = CALENDAR_DAYS) -> bytes:
    """The releases of /next's kinds from `today` for `days`, each with the rules it checks."""
    cal = Calendar()
    cal.add("prodid", "-//cyclewatch//releases//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", text(lang, "calendar_name"))
    stamp = datetime.combine(today, time(0), tzinfo=UTC)
    for kind in NEXT_KINDS:
        rules = ", ".join(checks.get(kind, [])) or text(lang, "next_checks_none")
        for part in PARTS.get(kind, (kind,)):
            for release in calendar.releases(part, today, today + timedelta(days=days)):
                item = CalendarEvent()
                item.add("uid", f"{part}-{release.at:%Y%m%dT%H%MZ}@cyclewatch")
                item.add("dtstamp", stamp)
                item.add("dtstart", release.at)
                item.add("dtend", release.at + timedelta(minutes=RELEASE_MINUTES))
                item.add("summary", text(lang, f"release_{part}"))
                item.add("description", text(lang, "calendar_checks", rules=rules))
                item.add("categories", [kind])
                cal.add_component(item)
    body: bytes = cal.to_ical()
    return body
