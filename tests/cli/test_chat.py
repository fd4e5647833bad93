"""`cyclewatch chat --data DIR`: a scripted session answers through the one command handler,
saves charts to files, and prints alerts for a subscribed console as they are produced.

The sessions run in this process (`main(argv)`, input and output as streams); only the prompt
on a terminal, which needs a pseudo-terminal of its own, runs as a process."""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Main


def test_a_scripted_session_answers_every_command(
    run_main: Main, history_dir: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    script = "/help\n/regime 2021-12-31\n/why qt_ends\n/subscribe all\n/nosuch\n"
    done = run_main("chat", "--data", str(history_dir), stdin=script)
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # /help lists the commands of bot/chat/commands.py and the rule ids of rules.yaml
    assert "/regime — " in out and "/subscribe — " in out and "qt_ends" in out
    assert "Regime as of 2021-12-31: easing into a bubble" in out
    assert "Why: Quantitative tightening has ended" in out
    assert "Subscribed to all." in out
    assert "I don't know the command \"nosuch\"" in out
    # answers come in the order asked
    assert out.index("/regime — ") < out.index("Regime as of") < out.index("Why: ") \
        < out.index("Subscribed to all.")
    charts = sorted(p.name for p in (tmp_path / "charts").glob("*.png"))
    assert charts == ["001-regime-2021-12-31.png", "002-why-qt_ends.png"]
    assert f"[chart saved: {tmp_path / 'charts' / '001-regime-2021-12-31.png'}]" in out
    assert (tmp_path / "charts" / charts[0]).read_bytes()[:4] == b"\x89PNG"
    # its own store for the data directory: the live default database is untouched
    state = Path(cli_env["XDG_STATE_HOME"]) / "cyclewatch"
    assert not (state / "cyclewatch.db").exists()
    assert [p.name.startswith("chat-data-") for p in state.glob("*.db")] == [True]


def test_the_subscription_survives_and_repeats_are_said(run_main: Main, history_dir: Path) -> None:
    first = run_main("chat", "--data", str(history_dir), stdin="/subscribe qt_ends\n")
    again = run_main("chat", "--data", str(history_dir), stdin="/subscribe qt_ends\n")
    assert "Subscribed to qt_ends" in first.stdout
    assert "already" in again.stdout.lower()


def _type_when_printed(out: io.StringIO, text: str, then: str, timeout: float = 90.0
                       ) -> tuple[threading.Thread, io.TextIOWrapper]:
    """A pipe for the session's input: once `text` is printed (or after `timeout`), `then` is
    typed and the input ends."""
    read_end, write_end = os.pipe()
    typist = os.fdopen(write_end, "w")

    def type_it() -> None:
        deadline = time.monotonic() + timeout
        while text not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        with typist:
            typist.write(then)

    thread = threading.Thread(target=type_it, daemon=True)
    thread.start()
    return thread, os.fdopen(read_end)


def test_alerts_produced_while_it_runs_are_printed(
    run_main: Main, history_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(history_dir, data, ignore=shutil.ignore_patterns("captures"))
    upper = data / "fred" / "DFEDTARU.csv"
    last_day, last_value = upper.read_text().strip().splitlines()[-1].split(",")
    # a Friday; Monday the 12th is Columbus Day (the Fed is closed), so the next business
    # day, and the next daily release, is Tuesday the 13th at 4:30 pm ET
    assert last_day == "2026-10-09"
    # Friday evening: subscribe (the rules' states start from here, silently).
    first = run_main("chat", "--data", str(data), "--as-of", "2026-10-09",
                     stdin="/subscribe rate_cut\n")
    assert "Subscribed to rate_cut" in first.stdout
    assert "policy rate" not in first.stdout
    with upper.open("a") as handle:  # the Fed cuts on Tuesday
        handle.write(f"2026-10-13,{float(last_value) - 0.25}\n")
    out = io.StringIO()
    typist, stdin = _type_when_printed(out, "The Fed cut its policy rate", "/history\n")
    with stdin:
        done = run_main("chat", "--data", str(data), "--as-of", "2026-10-13", stdin=stdin,
                        stdout=out)
    typist.join(timeout=5)
    assert done.returncode == 0, done.stderr
    assert "The Fed cut its policy rate" in done.stdout
    assert "Observation date 2026-10-13" in done.stdout  # the alert as delivered, not /history
    assert "Traceback" not in done.stdout + done.stderr


def exit_code_draining(pid: int, fd: int, timeout: float) -> int | None:
    """Wait for the child while reading its terminal, so a full pty buffer cannot block it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)
    return None


@pytest.mark.slow  # the prompt itself is under test: a process on a pseudo-terminal
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_on_a_terminal_the_prompt_completes_and_answers(
    history_dir: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the chat on the pseudo-terminal
        os.chdir(tmp_path)
        env = dict(cli_env, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
        os.execve(sys.executable,
                  [sys.executable, "-m", "bot", "chat", "--data", str(history_dir)], env)
    seen = b""

    def read_until(text: bytes, timeout: float = 90.0, after: int = 0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while text not in seen[after:] and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        assert text in seen[after:], seen.decode(errors="replace")[-2000:]

    try:
        read_until(b"cyclewatch>")
        for typed, completed in ((b"/wh", b"/why"), (b" qt_e", b"qt_ends")):
            echoed = len(seen)
            os.write(fd, typed)
            read_until(typed.strip(), after=echoed)  # in the line being edited: now complete it
            os.write(fd, b"\t")  # completion: /wh -> /why, then a rule id: qt_e -> qt_ends
            read_until(completed, after=echoed)
        os.write(fd, b"\r")
        read_until(b"Why: Quantitative tightening has ended")
        answered = seen.rfind(b"Why: Quantitative")
        read_until(b"cyclewatch>", after=answered)  # the prompt is back: typing Ctrl-D is read
        os.write(fd, b"\x04")  # Ctrl-D ends the session
        assert exit_code_draining(pid, fd, timeout=60) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        os.close(fd)
