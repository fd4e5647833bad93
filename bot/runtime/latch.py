"""The one outage latch: a line when something becomes unreachable, a line when it is back,
and nothing in between, so an outage does not flood the log (Home Assistant's pattern)."""

from __future__ import annotations

import logging


class OutageLatch:
    """Remembers whether `label` is down; logs only the changes."""

    def __init__(self, label: str, log: logging.Logger) -> None:
        self.label = label
        self.log = log
        self.down = False

    def failed(self, message: str) -> None:
        """A retryable failure: logged on the first one of an outage only."""
        if not self.down:
            self.log.warning("%s unreachable: %s; retrying with backoff", self.label, message)
        self.down = True

    def recovered(self) -> None:
        """A success: logged when it ends an outage."""
        if self.down:
            self.log.warning("%s reachable again", self.label)
        self.down = False
