"""The Apprise targets of CYCLEWATCH_APPRISE_URLS and their subscriptions.

Entries are separated by whitespace; each is an Apprise URL, optionally preceded by a filter
and `=` as in Apprise's own text configuration (`milestone,warning=discord://id/token`). A
filter names severities (milestone, warning, info), rule ids, or `all` (the default), and may
hold `lang:zh` for alerts in Chinese. Each target is a chat of the `apprise` platform whose id
is derived from its URL (never the URL itself: it holds the service's token), subscribed to
its filter's targets like a person's /subscribe.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from bot.i18n import normalize
from bot.store.chats import Subscriptions

PLATFORM_NAME = "apprise"
_FILTER = re.compile(r"^([A-Za-z0-9_.:,-]+)=(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class TargetError(ValueError):
    """An entry of CYCLEWATCH_APPRISE_URLS that is not an Apprise URL."""


@dataclass(frozen=True)
class AppriseTarget:
    """One URL, the chat it is delivered as, and what it subscribes to."""

    chat_id: str
    url: str
    subscribe: tuple[str, ...]
    lang: str = "en"

    @property
    def scheme(self) -> str:
        """The URL's scheme (discord, mailto, json, ...)."""
        return self.url.split("://", 1)[0].lower()


def chat_id_of(url: str) -> str:
    """A stable id for a URL that does not reveal it: `discord-3fa2b1c0d4e5`."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return f"{url.split('://', 1)[0].lower()}-{digest}"


def parse_targets(value: str) -> list[AppriseTarget]:
    """Every entry of the setting; TargetError names the first that is not a URL."""
    found: dict[str, AppriseTarget] = {}
    for number, entry in enumerate(value.split(), start=1):
        words: list[str] = []
        match = _FILTER.match(entry)
        if match:
            words = [w.strip() for w in match.group(1).split(",") if w.strip()]
            entry = entry[match.end():]
        if not _SCHEME.match(entry):
            raise TargetError(f"CYCLEWATCH_APPRISE_URLS entry {number} is not a URL "
                              "(scheme://...)")
        langs = [w.removeprefix("lang:") for w in words if w.startswith("lang:")]
        wanted = sorted({w for w in words if not w.startswith("lang:")}) or ["all"]
        target = AppriseTarget(chat_id_of(entry), entry, tuple(wanted),
                               normalize(langs[-1]) if langs else "en")
        found[target.chat_id] = target
    return list(found.values())


def sync_subscriptions(subs: Subscriptions, targets: list[AppriseTarget], now: datetime) -> None:
    """Make each target's chat hold exactly its filter's subscriptions and language."""
    for target in targets:
        subs.ensure_chat(PLATFORM_NAME, target.chat_id, is_group=True,
                         language_code=target.lang, now=now)
        subs.set_language(PLATFORM_NAME, target.chat_id, target.lang)
        have = set(subs.targets(PLATFORM_NAME, target.chat_id))
        for wanted in sorted(set(target.subscribe) - have):
            subs.subscribe(PLATFORM_NAME, target.chat_id, wanted, now)
        for extra in sorted(have - set(target.subscribe)):
            subs.unsubscribe(PLATFORM_NAME, target.chat_id, extra)
