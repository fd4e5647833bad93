"""The /healthz checks of the service as a whole: every source failing, every rule skipped,
a chat platform down; and the scrub that keeps error text on a public page harmless."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.ingest.poller import PollHealth
from bot.runtime.logsafe import public_error

EXAMPLES = 3  # how many failures a problem line names before "and N more"
LINE_CHARS = 600  # a problem naming three failures of up to 200 characters each


def _named(items: Mapping[str, str | None]) -> str:
    first = sorted(items.items())[:EXAMPLES]
    shown = [f"{name}: {public_error(why) or '?'}" for name, why in first]
    more = len(items) - EXAMPLES
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def service_problems(
    *, polls: Mapping[str, PollHealth], leader: bool, rules_loaded: int, evaluations: int,
    skipped_rules: Mapping[str, str], platforms_down: Mapping[str, str],
) -> list[str]:
    """Problems no single part reports: when everything of a kind fails at once."""
    problems: list[str] = []
    # Only the leader polls and evaluates; a follower's empty polls mean nothing.
    if leader and polls and all(poll.failures > 0 for poll in polls.values()):
        failing = {name: poll.last_error for name, poll in polls.items()}
        problems.append(f"every source failing ({_named(failing)})")
    if leader and evaluations and rules_loaded and len(skipped_rules) >= rules_loaded:
        problems.append(f"every rule skipped ({_named(dict(skipped_rules))})")
    problems.extend(f"platform {name} down: {why}" for name, why in sorted(platforms_down.items()))
    return problems


def public_body(value: Any) -> Any:
    """Every string of the report as `public_error` shows it: no SQL, parameters, credentials
    or tokens, one line."""
    if isinstance(value, str):
        return public_error(value, LINE_CHARS)
    if isinstance(value, dict):
        return {key: public_body(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [public_body(item) for item in value]
    return value
