"""The interactive prompt of the console chat (prompt_toolkit): history kept in a file,
completion of command names and, after them, of rule ids."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory

TARGETS = ("all", "milestone", "warning", "info")


class CommandCompleter(Completer):
    """`/re` → `/regime`, `/reload`; `/why q` → `/why qt_ends`."""

    def __init__(self, commands: Sequence[str], rule_ids: Callable[[], list[str]]) -> None:
        self.commands = [f"/{c}" for c in commands]
        self.rule_ids = rule_ids
        self._ids: list[str] | None = None

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        """Command names for the first word, rule ids (and targets) for the next."""
        before = document.text_before_cursor
        word = document.get_word_before_cursor(WORD=True)
        if " " not in before.lstrip():
            typed = word if word.startswith("/") else "/" + word
            choices: Iterable[str] = (c for c in self.commands if c.startswith(typed))
            yield from (Completion(c, start_position=-len(word)) for c in choices)
            return
        if self._ids is None:
            self._ids = self.rule_ids()
        extra = TARGETS if before.lstrip().startswith(("/subscribe", "/unsubscribe")) else ()
        for choice in (*self._ids, *extra):
            if choice.startswith(word):
                yield Completion(choice, start_position=-len(word))


class PromptReader:
    """Lines typed at a prompt with history and completion; Ctrl-D ends, Ctrl-C clears."""

    def __init__(self, history: Path, *, commands: Sequence[str],
                 rule_ids: Callable[[], list[str]]) -> None:
        history.parent.mkdir(parents=True, exist_ok=True)
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            completer=CommandCompleter(commands, rule_ids),
            complete_while_typing=True,
        )

    async def read(self) -> str | None:
        """The next line typed, or None after Ctrl-D."""
        while True:
            try:
                return await self.session.prompt_async("cyclewatch> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return None

    def close(self) -> None:
        """Leave the prompt if one is showing."""
        app = self.session.app
        if app.is_running:
            app.exit(exception=EOFError())
