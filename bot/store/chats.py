"""Chats, their language, time zone and quiet hours, subscriptions and mutes (tables `chats`,
`subscriptions`, `mutes`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.i18n import default_zone, normalize
from bot.store.quiet import QuietHours
from bot.store.schema import OutboxStatus, chats, mutes, outbox, subscriptions


@dataclass(frozen=True)
class Chat:
    """A chat the bot knows."""

    platform: str
    chat_id: str
    kind: str
    lang: str
    active: bool
    migrated_to: str | None = None  # a Telegram group that became a supergroup
    tz: str | None = None  # IANA zone; None: the service's CYCLEWATCH_TZ
    quiet: QuietHours | None = None
    briefing: str | None = None  # "weekly", or None: no briefing


def _chat(row: Any) -> Chat:
    return Chat(row.platform, row.chat_id, row.kind, row.lang or "en", bool(row.active),
                row.migrated_to, row.tz, QuietHours.from_spec(row.quiet), row.briefing)


def insert_ignoring_duplicates(
    conn: Connection, table: sa.Table, values: dict[str, Any]
) -> bool:
    """INSERT unless a unique constraint already holds this row; True when a row was added."""
    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    # rowcount is unreliable here (PostgreSQL reports 1 with implicit RETURNING); a returned
    # key is not.
    return conn.execute(stmt.returning(*table.primary_key.columns)).first() is not None


class Subscriptions:
    """Reads and changes what each chat wants, through the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_chat(
        self,
        platform: str,
        chat_id: str,
        *,
        is_group: bool,
        language_code: str | None,
        now: datetime,
    ) -> Chat:
        """The chat, created on first contact with a language and a zone from the caller's
        locale (a zone only where the language has one, e.g. zh -> Asia/Shanghai)."""
        with self.engine.begin() as conn:
            insert_ignoring_duplicates(
                conn,
                chats,
                {
                    "platform": platform,
                    "chat_id": chat_id,
                    "kind": "group" if is_group else "private",
                    "lang": normalize(language_code),
                    "tz": default_zone(language_code),
                    "active": True,
                    "created_at": now,
                },
            )
            row = conn.execute(
                sa.select(chats).where(chats.c.platform == platform, chats.c.chat_id == chat_id)
            ).one()
            if not row.active and row.migrated_to is None:
                # It blocked us once; talking to us again means it unblocked: resume delivery.
                self._set_active(conn, platform, chat_id, True)
        return dataclasses.replace(_chat(row), active=True)

    def find(self, platform: str, chat_id: str) -> Chat | None:
        """The chat as stored (language, active, where it moved), or None when unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(chats).where(chats.c.platform == platform, chats.c.chat_id == chat_id)
            ).first()
        return None if row is None else _chat(row)

    def find_many(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Chat]:
        """Several chats by (platform, chat id) in one statement; unknown ones are left out."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(chats).where(
                sa.tuple_(chats.c.platform, chats.c.chat_id).in_(sorted(keys)))).all()
        return {(row.platform, row.chat_id): _chat(row) for row in rows}

    def language(self, platform: str, chat_id: str) -> str:
        """The chat's language ('en' for an unknown chat): the one lookup every sender uses."""
        found = self.find(platform, chat_id)
        return found.lang if found is not None else "en"

    def set_language(self, platform: str, chat_id: str, lang: str) -> None:
        """Set the chat's language."""
        with self.engine.begin() as conn:
            conn.execute(
                chats.update()
                .where(chats.c.platform == platform, chats.c.chat_id == chat_id)
                .values(lang=lang)
            )

    def set_zone(self, platform: str, chat_id: str, tz: str) -> None:
        """Set the chat's IANA time zone."""
        self._set(platform, chat_id, tz=tz)

    def set_briefing(self, platform: str, chat_id: str, every: str | None) -> None:
        """Set how often the chat gets the briefing ("weekly"), or None for never."""
        self._set(platform, chat_id, briefing=every)

    def briefing_chats(self, conn: Connection) -> list[Chat]:
        """The active chats that get the weekly briefing."""
        rows = conn.execute(sa.select(chats).where(chats.c.active,
                                                   chats.c.briefing == "weekly"))
        return [_chat(row) for row in rows]

    def set_quiet(self, platform: str, chat_id: str, quiet: QuietHours | None,
                  now: datetime) -> int:
        """Set (or clear) the chat's quiet hours; rows it holds become due now, to be held
        again by the new window if it still covers them. How many were released."""
        with self.engine.begin() as conn:
            conn.execute(chats.update()
                         .where(chats.c.platform == platform, chats.c.chat_id == chat_id)
                         .values(quiet=quiet.spec if quiet else None))
            return int(conn.execute(
                outbox.update()
                .where(outbox.c.platform == platform, outbox.c.chat_id == chat_id,
                       outbox.c.status == OutboxStatus.PENDING, outbox.c.held,
                       outbox.c.next_attempt_at > now)
                .values(next_attempt_at=now)
            ).rowcount or 0)

    def _set(self, platform: str, chat_id: str, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(chats.update()
                         .where(chats.c.platform == platform, chats.c.chat_id == chat_id)
                         .values(**values))

    def subscribe(self, platform: str, chat_id: str, target: str, now: datetime) -> bool:
        """Subscribe the chat to `target`; False when it already was."""
        where = (
            subscriptions.c.platform == platform,
            subscriptions.c.chat_id == chat_id,
            subscriptions.c.target == target,
        )
        with self.engine.begin() as conn:
            conn.execute(
                chats.update()
                .where(chats.c.platform == platform, chats.c.chat_id == chat_id)
                .values(active=True)
            )
            if insert_ignoring_duplicates(
                conn,
                subscriptions,
                {"platform": platform, "chat_id": chat_id, "target": target,
                 "active": True, "created_at": now},
            ):
                return True
            reactivated = conn.execute(
                subscriptions.update().where(*where, ~subscriptions.c.active).values(active=True)
            )
            return bool(reactivated.rowcount)

    def unsubscribe(self, platform: str, chat_id: str, target: str | None) -> int:
        """Drop one subscription (or all when `target` is None); how many were dropped."""
        query = subscriptions.delete().where(
            subscriptions.c.platform == platform, subscriptions.c.chat_id == chat_id
        )
        if target is not None:
            query = query.where(subscriptions.c.target == target)
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    def targets(self, platform: str, chat_id: str) -> list[str]:
        """The chat's active subscription targets, sorted."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(subscriptions.c.target)
                .where(
                    subscriptions.c.platform == platform,
                    subscriptions.c.chat_id == chat_id,
                    subscriptions.c.active,
                )
                .order_by(subscriptions.c.target)
            )
            return [str(r.target) for r in rows]

    def mute(
        self, platform: str, chat_id: str, rule_id: str, until: datetime, by: str, now: datetime
    ) -> None:
        """Mute `rule_id` in the chat until `until` (replacing an earlier mute)."""
        with self.engine.begin() as conn:
            self._delete_mutes(conn, platform, chat_id, rule_id)
            conn.execute(
                mutes.insert().values(
                    platform=platform, chat_id=chat_id, rule_id=rule_id, until=until,
                    created_by=by, created_at=now,
                )
            )

    def unmute(self, platform: str, chat_id: str, rule_id: str) -> bool:
        """Lift a mute; False when there was none."""
        with self.engine.begin() as conn:
            return self._delete_mutes(conn, platform, chat_id, rule_id) > 0

    @staticmethod
    def _delete_mutes(conn: Connection, platform: str, chat_id: str, rule_id: str) -> int:
        return int(
            conn.execute(
                mutes.delete().where(
                    mutes.c.platform == platform,
                    mutes.c.chat_id == chat_id,
                    mutes.c.rule_id == rule_id,
                )
            ).rowcount
        )

    def deactivate_chat(self, conn: Connection, platform: str, chat_id: str) -> None:
        """The chat blocked or left us: keep its rows but send it nothing more."""
        self._set_active(conn, platform, chat_id, False)

    @staticmethod
    def _set_active(conn: Connection, platform: str, chat_id: str, active: bool) -> None:
        conn.execute(
            chats.update()
            .where(chats.c.platform == platform, chats.c.chat_id == chat_id)
            .values(active=active)
        )
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.platform == platform, subscriptions.c.chat_id == chat_id)
            .values(active=active)
        )

    def migrate_chat(self, conn: Connection, platform: str, old: str, new: str) -> None:
        """A group became a supergroup with a new id: move its settings and pending rows."""
        old_chat = conn.execute(
            sa.select(chats).where(chats.c.platform == platform, chats.c.chat_id == old)
        ).first()
        if old_chat is not None:
            values = {k: v for k, v in old_chat._mapping.items() if k not in ("chat_id",)}
            insert_ignoring_duplicates(conn, chats, {**values, "chat_id": new})
            conn.execute(
                chats.update()
                .where(chats.c.platform == platform, chats.c.chat_id == old)
                .values(active=False, migrated_to=new)
            )
        # The new id may already have some of these rows (its own /subscribe, a second
        # migration notice): copy what it lacks, then drop the old ones; never a conflict.
        old_subs = conn.execute(
            sa.select(subscriptions).where(
                subscriptions.c.platform == platform, subscriptions.c.chat_id == old
            )
        ).all()
        for sub in old_subs:
            values = {k: v for k, v in sub._mapping.items() if k not in ("id", "chat_id")}
            insert_ignoring_duplicates(conn, subscriptions, {**values, "chat_id": new})
        conn.execute(
            subscriptions.delete().where(
                subscriptions.c.platform == platform, subscriptions.c.chat_id == old
            )
        )
        conn.execute(
            mutes.update()
            .where(mutes.c.platform == platform, mutes.c.chat_id == old)
            .values(chat_id=new)
        )
        pending = sa.and_(
            outbox.c.platform == platform, outbox.c.chat_id == old,
            outbox.c.status == OutboxStatus.PENDING
        )
        already = sa.select(outbox.c.event_id).where(
            outbox.c.platform == platform, outbox.c.chat_id == new
        )
        conn.execute(
            outbox.update()
            .where(pending, outbox.c.event_id.in_(already))
            .values(status=OutboxStatus.MIGRATED, last_error=f"chat moved to {new}")
        )
        conn.execute(outbox.update().where(pending).values(chat_id=new))


def add_subscribers(
    engine: Engine, platform: str, chat_ids: list[str], now: datetime, *, lang: str = "en"
) -> None:
    """Many new private chats subscribed to everything, in one transaction (a fan-out's
    audience for benchmarks and trials; chats met in a conversation use `ensure_chat`)."""
    with engine.begin() as conn:
        conn.execute(chats.insert(), [
            {"platform": platform, "chat_id": chat, "kind": "private", "lang": lang,
             "active": True, "created_at": now} for chat in chat_ids])
        conn.execute(subscriptions.insert(), [
            {"platform": platform, "chat_id": chat, "target": "all", "active": True,
             "created_at": now} for chat in chat_ids])


class BatchChats(Subscriptions):
    """`find` answered from one read of a batch's chats (each answer used once, so a chat
    that changes during the batch is read again); other chats are read as ever."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._known: dict[tuple[str, str], Chat | None] = {}

    def prefetch(self, keys: set[tuple[str, str]]) -> None:
        """Read these (platform, chat id) chats in one statement."""
        found = self.find_many(keys) if keys else {}
        self._known = {key: found.get(key) for key in keys}

    def holds(self, platform: str, chat_id: str) -> bool:
        """Whether `find` answers this chat from memory (no database call)."""
        return (platform, chat_id) in self._known

    def find(self, platform: str, chat_id: str) -> Chat | None:
        """The chat (from the batch's read when it holds it)."""
        key = (platform, chat_id)
        if key in self._known:
            return self._known.pop(key)
        return super().find(platform, chat_id)
