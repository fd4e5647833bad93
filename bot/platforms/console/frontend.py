"""The console front end: reads command lines from the terminal (prompt_toolkit with history
and completion on a TTY, plain lines otherwise, so a session can be scripted), hands each to
the one command handler, and prints the reply; a chart is saved to a file whose path is
printed, buttons are shown with the command line they run."""

from __future__ import annotations

import asyncio
import contextlib
import locale
import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Protocol, TextIO

import platformdirs
import yaml

from bot.chat.types import Caller, CommandHandler, Reply
from bot.config import Settings

log = logging.getLogger(__name__)

CONSOLE_USER = "local"
COMMAND_FAILED = "Sorry, that command failed (see the log)."
QUIT = frozenset({"/quit", "/exit", "quit", "exit"})


class LineReader(Protocol):
    """Where command lines come from."""

    async def read(self) -> str | None:
        """The next line (without its newline), or None at the end of input."""
        ...

    def close(self) -> None:
        """Stop reading."""
        ...


class PlainReader:
    """Lines from a text stream (a pipe or a file), read in a daemon thread so that a
    blocked read never holds up the end of the process."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._queue: asyncio.Queue[str | None] | None = None

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        for line in self.stream:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    async def read(self) -> str | None:
        """The next line, or None at the end of the stream."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            threading.Thread(target=self._pump, args=(asyncio.get_running_loop(), self._queue),
                             name="console-stdin", daemon=True).start()
        return await self._queue.get()

    def close(self) -> None:
        """Nothing to release: the thread ends with the stream or the process."""


def console_caller(admin: bool = True) -> Caller:
    """The person at the terminal: a private chat whose user administers it."""
    code = (locale.getlocale()[0] or os.environ.get("LANG") or "en")[:2].lower()
    return Caller(platform="console", chat_id="console", user_id=CONSOLE_USER,
                  is_chat_admin=admin, language_code=code)


def rule_ids(path: Path) -> list[str]:
    """The rule ids of a rules file, for completion only (an unreadable file gives none)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    found = doc.get("rules") if isinstance(doc, dict) else None
    return [str(r["id"]) for r in found or [] if isinstance(r, dict) and "id" in r]


def render_reply(reply: Reply, chart: Path | None) -> str:
    """A reply as terminal text: its paragraphs, the chart's file, the buttons' commands."""
    lines = [reply.text]
    if chart is not None:
        lines.append(f"[chart saved: {chart}]")
    if reply.buttons:
        lines.append("  ".join(f"[{b.label}: {b.action}]" for b in reply.buttons))
    return "\n".join(lines)


class ConsoleFrontEnd:
    """Serves chat commands on the terminal; `finished` is set when the input ends."""

    def __init__(
        self, handler: CommandHandler, reader: LineReader, *, chart_dir: Path,
        out: TextIO | None = None, caller: Caller | None = None,
    ) -> None:
        self.handler = handler
        self.reader = reader
        self.chart_dir = chart_dir
        self.out = out
        self.caller = caller or console_caller()
        self.finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._charts = 0

    @classmethod
    def from_settings(cls, settings: Settings, handler: CommandHandler) -> ConsoleFrontEnd:
        """A prompt with history and completion on a TTY, plain lines otherwise."""
        chart_dir = settings.console_chart_dir or Path(
            platformdirs.user_cache_dir("cyclewatch")) / "charts"
        reader: LineReader
        if sys.stdin.isatty() and sys.stdout.isatty():
            from bot.chat.commands import COMMANDS
            from bot.platforms.console.terminal import PromptReader

            history = Path(platformdirs.user_state_dir("cyclewatch")) / "chat_history"
            reader = PromptReader(history, commands=sorted(COMMANDS),
                                  rule_ids=lambda: rule_ids(settings.rules_path))
        else:
            reader = PlainReader(sys.stdin)
        return cls(handler, reader, chart_dir=chart_dir)

    async def start(self) -> None:
        """Begin reading lines (in a task of the running loop)."""
        self._task = asyncio.create_task(self._serve(), name="console-chat")

    async def stop(self) -> None:
        """Stop reading; an answer in flight is abandoned."""
        self.reader.close()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.finished.set()

    def write(self, text: str) -> None:
        """Print to the session (sys.stdout as it is now, so prompt_toolkit can patch it)."""
        out = self.out or sys.stdout
        out.write(text + "\n")
        out.flush()

    async def _serve(self) -> None:
        try:
            while (line := await self.reader.read()) is not None:
                line = line.strip()
                if line.lower() in QUIT:
                    break
                if line:
                    await self.answer(line)
        finally:
            self.finished.set()

    async def answer(self, line: str) -> Reply:
        """Run one command line through the handler and print the reply."""
        if not line.startswith("/"):
            line = "/" + line  # at a prompt of its own, the slash is optional
        try:
            reply = await self.handler(self.caller, line)
        except Exception:
            log.exception("command %r failed on the console", line)
            reply = Reply(COMMAND_FAILED)
        self.write(render_reply(reply, self._save_chart(line, reply)) + "\n")
        return reply

    def _save_chart(self, line: str, reply: Reply) -> Path | None:
        if reply.chart_png is None:
            return None
        self._charts += 1
        words = [re.sub(r"[^A-Za-z0-9_-]", "", w) for w in line.lstrip("/").split()]
        stem = "-".join([f"{self._charts:03d}", *filter(None, words)])[:80]
        self.chart_dir.mkdir(parents=True, exist_ok=True)
        path = self.chart_dir / f"{stem}.png"
        path.write_bytes(reply.chart_png)
        return path
