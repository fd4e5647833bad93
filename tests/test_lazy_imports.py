"""What a start does not load: matplotlib (~40 MB, a third of a second) comes with the first
chart (the alert-chart hook and the briefing's included), psycopg only with PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest

STARTED = """
import sys
import bot.app.service, bot.app.wiring, bot.app.chatside, bot.briefing.attach, bot.cli.chat
print(",".join(m for m in ("matplotlib", "psycopg") if m in sys.modules) or "none")
"""


@pytest.mark.slow  # a fresh interpreter: this one has drawn charts already
def test_starting_loads_neither_matplotlib_nor_psycopg() -> None:
    done = subprocess.run([sys.executable, "-c", STARTED], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == "none"
