"""matplotlib (~40 MB, a third of a second) is loaded on the first chart, not at start: the
service's and the chat's modules, the alert-chart hook and the briefing's included."""

from __future__ import annotations

import subprocess
import sys

import pytest

STARTED = """
import sys
import bot.app.service, bot.app.wiring, bot.app.chatside, bot.briefing.attach, bot.cli.chat
print("matplotlib" in sys.modules)
"""


@pytest.mark.slow  # a fresh interpreter: this one has drawn charts already
def test_starting_loads_no_matplotlib() -> None:
    done = subprocess.run([sys.executable, "-c", STARTED], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == "False"
