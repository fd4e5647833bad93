"""Seeding a store as an earlier run would have left it: subscribers and one rule's state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot.store import Store
from bot.store.chats import Subscriptions
from bot.store.schema import rule_states
from rules import RuleState, load_rules

# One synthetic rule over one synthetic series (TESTX), for the service's fault trials.
TESTX_RULES = """\
series:
  x: {source: fred, id: TESTX, fresh: 100y}
rules:
  - id: x_high
    title: Test series above its line
    when: "x > 10"
"""


def seed_subscribers(db_url: str, platform: str, chats: Iterable[str], rules_text: str) -> None:
    """Subscribe `chats` to everything, and give the first rule a state as of the last
    historical week (2026-10-15), so the weeks written next are news, not history."""
    store = Store(db_url)
    now = datetime.now(UTC)
    subs = Subscriptions(store.engine)
    for chat in chats:
        subs.ensure_chat(platform, chat, is_group=False, language_code="en", now=now)
        subs.subscribe(platform, chat, "all", now)
    rule = load_rules(rules_text).rules[0]
    state = RuleState(rule.id, rule.definition_hash, last="2026-10-15", baseline="2026-10-15")
    with store.engine.begin() as conn:
        conn.execute(rule_states.insert().values(
            rule_id=rule.id, state="inactive", definition_hash=rule.definition_hash,
            data=state.to_json(), updated_at=now))
    store.close()
