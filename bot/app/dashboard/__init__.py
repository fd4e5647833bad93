"""The read-only web dashboard: the page at `/`, its JSON under `/api/`, bundled assets."""

from __future__ import annotations

from collections.abc import Callable

from bot.app.dashboard.model import Clock, DashboardModel
from bot.app.dashboard.routes import DashboardRoutes, Handler
from bot.evaluate.insight import Insight
from bot.store import Store
from rules import RuleSet

__all__ = ["DashboardModel", "DashboardRoutes", "Handler", "following"]


def following(
    store: Store, current: Callable[[], RuleSet | None], today: Clock
) -> Callable[[], DashboardModel | None]:
    """The model over the store for whatever rule set is current (a reload starts afresh)."""
    held: list[tuple[RuleSet, DashboardModel]] = []

    def model_of() -> DashboardModel | None:
        ruleset = current()
        if ruleset is None:
            return None
        if not held or held[0][0] is not ruleset:
            held[:] = [(ruleset, DashboardModel(Insight.from_store(ruleset, store), today))]
        return held[0][1]

    return model_of
