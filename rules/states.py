"""The names of a rule's states and of its transitions (strings on the wire and in the store)."""

from __future__ import annotations

from enum import StrEnum


class RuleStatus(StrEnum):
    """Where a rule's state machine stands: inactive → pending (`for`) → firing."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class Transition(StrEnum):
    """What an event says happened to a rule: it started firing, or it resolved."""

    FIRING = "firing"
    RESOLVED = "resolved"
