"""A deterministic, seeded mutator of rules files, and the check / evaluate / reload harness of
the fuzz campaign (tests/rules/test_fuzz.py; the whole campaign is `make fuzz`)."""

from __future__ import annotations

import asyncio
import random
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import FrameType

import numpy as np
import pandas as pd

from bot.evaluate.reload import RulesHolder
from rules import RulesError, RuleSet, backtest, classify_regime, evaluate, load_rules
from rules.trial import trial
from sources.registry import option_schemas

BASE = """\
series:
  w: {id: W, title: {en: Weekly, zh: 周}}
  m: {id: M, lag: 40d}
  d: {id: D, fresh: 30d}
metrics:
  wm: "mean(w, '13w')"
  gap: "w - wm"
  mm: "pct_change(m, '1y')"
rules:
  - id: r_up
    title: {en: Up, zh: 上}
    when: "gap > 0 and rises(w) >= 2"
    clear_when: "gap < -1"
    for: 2
    explain: "{{ title }}: {{ num(value) }} on {{ date }}\
{% for k, v in values.items() %} {{ k }}={{ num(v) }}{% endfor %}"
    values: {g: gap, y: "mm"}
  - id: r_m
    title: M falls
    when: "change(m, 3) < 0"
    value: m
    severity: warning
    meaning: "{{ rule }} means"
  - id: r_cross
    title: Cross
    when: "crosses_above(w, wm) or count(d > 0, '10w') > 3"
regimes:
  gauges:
    - {id: g_up, title: Up, when: "r_up"}
    - {id: g_m, title: M, when: "mm > 0", value: mm}
  choose:
    - {id: boom, when: "g_up and g_m"}
  default: neutral
"""

NUMBERS = ["0", "-1", "1e15", "1e16", "1e308", "1e999", "9" * 400, "0.0001", "-0", "1_000",
           "0x10", "1j", "nan", "inf", "True", "None", "'x'", "2 ** 8", "1e15 ** 8"]
PERIODS = ["'1000y'", "'100y'", "'101y'", "'36525d'", "'99999w'", "'0d'", "'-1w'", "'1.5y'",
           "'26w'", "'1200m'", "'401q'", "100000", "100001", "0", "-3", "'y'"]
SNIPPETS = ["", ":", "- ", "{", "}", "[", "]", "'", '"', "&a", "*a", "!!python/object:os.system",
            "\t", "for: -1", "on: nope", "when: 1", "x: {id: }", "__import__", "\x00", "\ufeff",
            "%", "rules:", "series: 3", "id: Bad-Id", "title: {fr: x}", "((((", "change(",
            "**9", "1e999", "? [a]", "<<: *a", "!!binary AAAA", "~", "null", "é", "名",
            "\u202e", "\U0001f600", "lag: 1000y", "fresh: 101y", "for: 100000"]
TEMPLATES = [
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}",
    "{{ num }} {{ values }} {{ self }} {{ num ~ '' }} {{ [num]|join }}",
    "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}",
    "{{ 'x' * 100000000 }}", "{{ '%999999999d' % 1 }}", "{{ value.__class__ }}",
    "{{ ''.__class__.__mro__ }}", "{{ 9 ** 99 ** 99 }}", "{% for x in [[1]] recursive %}"
    "{{ loop(x) }}{% endfor %}", "{{ values|tojson }}", "{{ cycler }}{{ lipsum() }}",
    "{% set x = namespace() %}", "{{ value / 0 }}", "{{", "{% if %}", "{{ fmt(value) }}",
]
EXPR_PARTS = ["w", "m", "d", "wm", "gap", "mm", "r_up", "r_m"]
FUNCS_W = ["change", "pct_change", "mean", "median", "min", "max", "sum", "count", "pctrank"]


def expression(rng: random.Random, depth: int = 0) -> str:
    """A random expression, valid or not, with resource bombs mixed in."""
    roll = rng.random()
    if depth > 4 or roll < 0.25:
        return rng.choice([*EXPR_PARTS, *NUMBERS[:8], "x.__class__", "_w", "lambda: 1"])
    if roll < 0.45:
        f = rng.choice(FUNCS_W)
        return f"{f}({expression(rng, depth + 1)}, {rng.choice(PERIODS)})"
    if roll < 0.55:
        return f"({expression(rng, depth + 1)}) ** {rng.choice(['2', '8', '9', '0.5', '-8'])}"
    if roll < 0.65:
        return f"{rng.choice(['yoy', 'rises', 'abs', 'pct_from_high', 'known'])}" \
               f"({expression(rng, depth + 1)})"
    if roll < 0.7:
        return f"({expression(rng, depth + 1)}).shift({rng.choice(['1', '0', '100001', '-1'])})"
    op = rng.choice(["+", "-", "*", "/", ">", "<=", "==", "and", "or", "%", "//", "<<"])
    return f"({expression(rng, depth + 1)} {op} {expression(rng, depth + 1)})"


def _chain(rng: random.Random, n: int, cycle: bool) -> str:
    lines = [f"  c{i}: c{(i + 1) % n if cycle else i + 1} + 1" for i in range(n - 1)]
    lines.append(f"  c{n - 1}: {'c0' if cycle else 'w'} + 1")
    return BASE.replace("metrics:\n", "metrics:\n" + "\n".join(lines) + "\n", 1).replace(
        '"gap > 0 and rises(w) >= 2"', '"c0 > 0"')


def _alias_bomb(rng: random.Random) -> str:
    levels = rng.randint(3, 12)
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    where = rng.choice(["top", "series", "rule"])
    if where == "top":
        return "\n".join(lines) + "\n" + BASE
    bomb = f"*a{levels - 1}"
    return "\n".join(lines) + "\n" + BASE.replace("for: 2", f"for: {bomb}", 1)


def _deep(rng: random.Random) -> str:
    n = rng.choice([50, 65, 200, 5000, 50000])
    kind = rng.choice(["[", "{a: ", "- "])
    if kind == "[":
        body = "[" * n + "]" * n
    elif kind == "{a: ":
        body = "{a: " * n + "1" + "}" * n
    else:
        body = "\n".join("  " * i + "- x" for i in range(min(n, 2000)))
    return BASE.replace("for: 2", f"for: {body}", 1) if rng.random() < 0.5 else body


def _huge(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        rules = "".join(f"  - {{id: z{i}, title: Z, when: 'w > {i}'}}\n" for i in range(600))
        return BASE.replace("rules:\n", "rules:\n" + rules, 1)
    if kind == 1:
        return BASE.replace('"gap > 0 and rises(w) >= 2"',
                            repr("(" * 120 + "w" + ")" * 120), 1)
    if kind == 2:
        return BASE.replace("'13w'", "'" + "9" * rng.choice([5, 50, 5000]) + "w'", 1)
    if kind == 3:
        return BASE + "#" + "x" * 1_100_000
    nested = "w"
    for i in range(rng.choice([60, 140, 199])):
        nested = f"abs({nested})" if i % 2 else f"(-{nested})"
    return BASE.replace('"w - wm"', repr(nested), 1)


def _template(rng: random.Random) -> str:
    text = rng.choice(TEMPLATES).replace("\\", "\\\\").replace('"', '\\"')
    return BASE.replace('meaning: "{{ rule }} means"', f'meaning: "{text}"', 1)


def _lines(rng: random.Random) -> str:
    lines = BASE.splitlines()
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(lines))
        kind = rng.randrange(7)
        if kind == 0:
            del lines[at]
            lines = lines or [""]
        elif kind == 1:
            lines.insert(at, rng.choice(SNIPPETS))
        elif kind == 2:
            col = rng.randint(0, len(lines[at]))
            lines[at] = lines[at][:col] + rng.choice(SNIPPETS) + lines[at][col + 1:]
        elif kind == 3:
            lines = lines[:at] or [""]
        elif kind == 4:
            lines[at] = "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randint(0, 30)))
        elif kind == 5:
            lines.insert(at, lines[rng.randrange(len(lines))])
        else:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines)


def _tokens(rng: random.Random) -> str:
    text = BASE
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(4)
        if kind == 0:
            old = rng.choice(["'13w'", "'1y'", "3", "'10w'"])
            text = text.replace(old, rng.choice(PERIODS), 1)
        elif kind == 1:
            text = text.replace("> 0", "> " + rng.choice(NUMBERS), 1)
        elif kind == 2:
            old = rng.choice(['"w - wm"', "\"pct_change(m, '1y')\"", '"change(m, 3) < 0"'])
            text = text.replace(old, repr(expression(rng)), 1)
        else:
            text = text.replace(rng.choice(["r_up", "gap", "wm", "W"]),
                                rng.choice(["é", "名", "r up", "A" * 70, "\u0430", "_x"]), 1)
    return text


KINDS: dict[str, Callable[[random.Random], str]] = {
    "lines": _lines, "tokens": _tokens, "template": _template, "alias": _alias_bomb,
    "deep": _deep, "huge": _huge,
    "chain": lambda rng: _chain(rng, rng.choice([10, 99, 101, 500, 999]), cycle=False),
    "cycle": lambda rng: _chain(rng, rng.choice([3, 120, 999, 2000]), cycle=True),
    "bytes": lambda rng: bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
    .decode("utf-8", errors="replace"),
}
WEIGHTS = {"lines": 30, "tokens": 40, "template": 8, "alias": 3, "deep": 3, "huge": 4,
           "chain": 3, "cycle": 3, "bytes": 6}


def mutants(seed: int, count: int) -> Iterator[tuple[str, str]]:
    """`count` (kind, text) rules files, the same for the same seed."""
    rng = random.Random(seed)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        yield kind, KINDS[kind](rng)


def history() -> dict[str, pd.Series]:
    """A small synthetic history for W, M and D (plainly fake numbers)."""
    rng = np.random.default_rng(3)
    return {
        "W": pd.Series(100 + rng.normal(size=120).cumsum(),
                       index=pd.date_range("2019-01-02", periods=120, freq="7D")),
        "M": pd.Series(50 + rng.normal(size=30).cumsum(),
                       index=pd.date_range("2019-01-01", periods=30, freq="MS")),
        "D": pd.Series(rng.choice([0.0, 1.0, np.nan], size=500),
                       index=pd.date_range("2019-01-01", periods=500)),
    }


DATA = history()
HANG_SECONDS = 5.0


class Hang(Exception):
    """One file took longer than HANG_SECONDS."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


def check(text: str) -> RuleSet | None:
    """What `cyclewatch check --data` does: load, then the trial over history; None when the
    file is refused (RulesError)."""
    try:  # with the sources' option models, as `cyclewatch check` and the service load it
        ruleset = load_rules(text, "fuzz.yaml", option_schemas())
    except RulesError as err:
        assert err.problems and all(p.line >= 1 and p.col >= 1 for p in err.problems)
        return None
    return None if trial(ruleset, DATA) else ruleset


def run_evaluation(ruleset: RuleSet) -> None:
    """What the service does with a file that passed: backtest, live evaluation, regime,
    every event rendered in both languages."""
    events = backtest(ruleset, DATA)
    evaluate(ruleset, DATA, {}, date(2021, 6, 1))
    if ruleset.gauges:
        classify_regime(ruleset, DATA, date(2021, 6, 1))
    for event in events:
        event.render("en")
        event.render("zh")


@dataclass
class Figures:
    """What a campaign found."""

    files: int = 0
    passed: int = 0
    refused: int = 0
    tracebacks: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    pass_check_fail_eval: list[str] = field(default_factory=list)
    reload_failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line of figures."""
        return (f"{self.files} files ({dict(self.kinds)}): {self.passed} passed check, "
                f"{self.refused} refused; tracebacks {len(self.tracebacks)}, hangs > "
                f"{HANG_SECONDS:g} s {len(self.hangs)}, pass-check-fail-eval "
                f"{len(self.pass_check_fail_eval)}, reload failures {len(self.reload_failures)}"
                f"; slowest {self.slowest:.2f} s")


def campaign(seed: int, count: int, workdir: Path, reload_every: int = 1) -> Figures:
    """Every mutant through check (+ evaluation when it passes) and, every `reload_every`-th,
    through a live RulesHolder reload; in the main thread (SIGALRM bounds each file)."""
    figures = Figures()
    path = workdir / "rules.yaml"
    path.write_text(BASE, encoding="utf-8")
    holder = RulesHolder(path, history=lambda _ruleset: DATA)
    holder.load()
    loop = asyncio.new_event_loop()
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for number, (kind, text) in enumerate(mutants(seed, count)):
            figures.files += 1
            figures.kinds[kind] += 1
            started = time.monotonic()
            label = f"#{number} ({kind})"
            signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
            try:
                ruleset = check(text)
                if ruleset is None:
                    figures.refused += 1
                else:
                    figures.passed += 1
                    try:
                        run_evaluation(ruleset)
                    except Hang:
                        raise
                    except Exception:
                        figures.pass_check_fail_eval.append(f"{label}: {traceback.format_exc()}")
            except Hang:
                figures.hangs.append(label)
            except Exception:
                figures.tracebacks.append(f"{label}: {traceback.format_exc()}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if number % reload_every == 0:
                path.write_text(text, encoding="utf-8")
                result = loop.run_until_complete(holder.reload())
                if any("cannot load:" in p or "abandoned" in p for p in result.problems):
                    figures.reload_failures.append(f"{label}: {result.problems}")
                if result.ok != (ruleset is not None) and not result.unchanged_file:
                    figures.reload_failures.append(f"{label}: reload ok={result.ok}")
            figures.slowest = max(figures.slowest, time.monotonic() - started)
    finally:
        signal.signal(signal.SIGALRM, previous)
        loop.close()
    return figures
