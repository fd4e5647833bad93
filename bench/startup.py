"""Start-up to the first answered `/regime`, whole process, cold and warm store.

Starts `cyclewatch chat --data DIR` and `cyclewatch run --data DIR` (with the console as its
chat, CYCLEWATCH_CONSOLE_CHAT) as subprocesses with a state directory of their own, writes
`/regime` to their standard input, and takes the time from the spawn to the moment an answer
with the regime arrives (a console reply is one write), with the CPU the process had used by
then (read from /proc). Cold: an empty state directory, so every file is read into a new
store (`run` answers "no data yet", then from the series stored so far, until its first poll
has stored them all; it is asked again until the answer has every series).
Warm: the store the cold run left. Each is repeated and the median printed. Issue 20's
targets: warm ≤ 3 s, cold ≤ 10 s.

    .venv/bin/python -m bench.startup [--data ../shared/data] [--runs 3] [--only chat|run]
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NO_DATA = "No data yet"  # the answer while the store holds nothing
CHART = "[chart saved: "  # the last line of an answer that shows a regime
PARTIAL = "no data for"  # in an answer while the first poll has stored some series only
TIMEOUT_SECONDS = 300.0
TICKS = os.sysconf("SC_CLK_TCK")
TARGETS = {"cold": 10.0, "warm": 3.0}


@dataclass(frozen=True)
class Start:
    """One start: seconds from spawn to the /regime answer, CPU seconds used by then, and
    how many times /regime was asked (more than once: "no data yet" came first)."""

    wall: float
    cpu: float
    asked: int


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def command(kind: str, data: Path, state: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a `chat` or `run` over `data`, state in `state`."""
    env = {**os.environ, "XDG_STATE_HOME": str(state), "XDG_CACHE_HOME": str(state / "cache"),
           "PYTHONUNBUFFERED": "1"}
    for name in ("CYCLEWATCH_DB_URL", "CYCLEWATCH_CONSOLE_CHAT", "CYCLEWATCH_HTTP_ADDR"):
        env.pop(name, None)
    if kind == "run":
        state.mkdir(parents=True, exist_ok=True)
        env.update(CYCLEWATCH_CONSOLE_CHAT="true", CYCLEWATCH_HTTP_ADDR="127.0.0.1:0",
                   CYCLEWATCH_DB_URL=f"sqlite:///{state / 'run.db'}")
    return [sys.executable, "-m", "bot", kind, "--data", str(data)], env


def first_regime(kind: str, data: Path, state: Path) -> Start:
    """Start `kind` over `data` with its store under `state`; time its first /regime answer
    that shows a regime."""
    argv, env = command(kind, data, state)
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    out, asked = "", 0
    try:
        while time.monotonic() - began < TIMEOUT_SECONDS:
            answers = out.count(NO_DATA) + out.count(CHART)
            if asked == answers:  # the first time, or "no data yet" (or not all yet): again
                time.sleep(0.2 if asked else 0)
                proc.stdin.write(b"/regime\n")
                proc.stdin.flush()
                asked += 1
            if not selector.select(timeout=1.0):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
            if not chunk:
                raise RuntimeError(f"{kind} ended before answering: {out[-500:]!r}")
            out += chunk
            if CHART in out:  # a regime answer (one write): does it show every series?
                answer = out.rsplit(CHART, 1)[0].rsplit(CHART, 1)[-1].rsplit(NO_DATA, 1)[-1]
                if PARTIAL not in answer:
                    return Start(time.monotonic() - began, cpu_seconds(proc.pid), asked)
        raise RuntimeError(f"no /regime answer from {kind} in time")
    finally:
        proc.stdin.close()
        proc.terminate()  # `run` goes on after its console input ends; it stops on SIGTERM
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(kind: str, data: Path, runs: int) -> dict[str, list[Start]]:
    """`runs` cold starts (each with a new state directory) and `runs` warm ones."""
    found: dict[str, list[Start]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="cw-startup-") as tmp:
        for n in range(runs):
            state = Path(tmp) / f"cold{n}"
            found["cold"].append(first_regime(kind, data, state))
            if n < runs - 1:
                shutil.rmtree(state)
        for _ in range(runs):
            found["warm"].append(first_regime(kind, data, state))
    return found


def main() -> None:
    """Measure and print cold and warm first-/regime times (medians and every run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared/data")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("chat", "run"))
    args = parser.parse_args()
    for kind in ("chat", "run"):
        if args.only and kind != args.only:
            continue
        for temperature, starts in measure(kind, args.data.resolve(), args.runs).items():
            walls = ", ".join(f"{s.wall:.2f}" for s in starts)
            cpus = ", ".join(f"{s.cpu:.2f}" for s in starts)
            asked = max(s.asked for s in starts)
            print(f"{kind} --data, {temperature} store: first /regime in "
                  f"{statistics.median(s.wall for s in starts):.2f} s median "
                  f"(target ≤ {TARGETS[temperature]:g} s); runs {walls} s; CPU by then "
                  f"{cpus} s" + (f"; asked up to {asked}x" if asked > 1 else ""), flush=True)


if __name__ == "__main__":
    main()
