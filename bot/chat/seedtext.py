"""The words for what happened and how much: a one-off milestone's last event ("last cut
2025-12-11, −0.25 pp to 3.75 %; 3 cuts, −75 bp in 6 months") and the seed's numbers, in en
or zh, for /regime, /why and the dashboard alike (numbers from rules/seednumbers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.evaluate.insight import Insight
from bot.i18n import text
from rules import Event
from rules.alerttext import named_lines
from rules.model import pick_language
from rules.seednumbers import EventMove, Pace, SeedNumbers
from rules.units import format_signed, format_value


def _moves(pace: Pace, lang: str) -> str:
    parts = []
    for n, kind in ((pace.cuts, "cut"), (pace.hikes, "hike")):
        if n:
            parts.append(text(lang, f"moves_{kind}_{'one' if n == 1 else 'many'}", n=n))
    return text(lang, "list_sep").join(parts) if parts else text(lang, "moves_none")


def pace_text(pace: Pace, lang: str) -> str:
    """`3 cuts, −75 bp in 6 months`."""
    return text(lang, "event_pace", moves=_moves(pace, lang), months=pace.months,
                change=format_signed(pace.change * 100, "bp", lang))


def event_text(event: tuple[Event, EventMove | None] | None, lang: str) -> str:
    """A one-off milestone's last event (`Insight.event_move`) with its date and size, and
    the pace of moves."""
    if event is None:
        return text(lang, "event_never")
    last, found = event
    day = last.date.isoformat()
    if found is None:  # not a rate move (QT started): the event's own numbers
        spec = last.rule.spec
        shown = []
        if last.value is not None:
            title = pick_language(spec.value_title, lang) or text(lang, "value_word")
            shown.append(f"{title} {format_value(last.value, spec.unit, lang)}")
        shown += [line.removeprefix("• ") for line in named_lines(spec, last.values, lang)]
        if not shown:
            return text(lang, "event_fired", date=day)
        return text(lang, "event_fired_values", date=day,
                    values=text(lang, "event_sep").join(shown))
    move = found.move
    key = "event_last_move" if found.latest else "event_move_then"
    words = text(lang, key, move=text(lang, "move_cut" if move.change < 0 else "move_hike"),
                 date=move.date.isoformat(), change=format_signed(move.change, "pp", lang),
                 level=format_value(move.level, "%", lang))
    pace = found.pace  # the pace when moves of this direction fall in the last 6 months
    if pace is not None and (pace.cuts if move.change < 0 else pace.hikes):
        words += text(lang, "event_sep") + pace_text(pace, lang)
    return words


def event_texts(insight: Insight, as_of: date, lang: str) -> dict[str, str]:
    """Each one-off rule's event text on `as_of`, by rule id."""
    out = {}
    for rule_id in insight.rule_ids:
        if insight.one_off(rule_id):
            out[rule_id] = event_text(insight.event_move(rule_id, as_of), lang)
    return out


def _money(value: float | None, lang: str) -> str:
    return format_signed(value, "$ mn", lang)


def _qt_line(found: SeedNumbers, lang: str) -> str:
    qt = found.since_qt
    if qt is None and found.qt_over is not None:
        ended, until = found.qt_over
        return text(lang, "seed_qt_over", ended=ended.isoformat(), until=until.isoformat())
    if qt is None:
        return text(lang, "seed_qt_not_ended")
    values = {"ended": qt.ended.isoformat(), "treasuries": _money(qt.treasuries, lang),
              "treasuries_to": qt.treasuries_to.isoformat()}
    if qt.reserves is None or qt.reserves_to is None:
        return text(lang, "seed_qt_treasuries", **values)
    return text(lang, "seed_qt", reserves=_money(qt.reserves, lang),
                reserves_to=qt.reserves_to.isoformat(), **values)


def _pace_line(found: SeedNumbers, lang: str) -> str:
    if found.pace_6m is None:
        return text(lang, "seed_pace_none")
    six, year = found.pace_6m, found.pace_12m or found.pace_6m
    return text(lang, "seed_pace", level=format_value(six.level, "%", lang),
                change_6m=format_signed(six.change * 100, "bp", lang), moves_6m=_moves(six, lang),
                change_12m=format_signed(year.change * 100, "bp", lang),
                moves_12m=_moves(year, lang))


def _gold_line(found: SeedNumbers, lang: str) -> str:
    gold = found.gold
    if gold is None:
        return text(lang, "seed_gold_none")
    return text(lang, "seed_gold", gold=format_signed(gold.gold_return, "%", lang),
                gold_month=gold.gold_month.isoformat()[:7],
                price=format_value(gold.gold_price, "$ per oz", lang),
                yield_10y=format_value(gold.yield_10y, "%", lang),
                inflation=format_value(gold.inflation, "%", lang),
                cpi_month=gold.cpi_month.isoformat()[:7] if gold.cpi_month else "—")


def seed_lines(found: SeedNumbers, lang: str, only: tuple[str, ...] = ()) -> list[str]:
    """The seed's numbers, one bullet each, with units and the dates they run to (`only`:
    those of these kinds: qt, pace, share, gold)."""
    lines = {"qt": _qt_line, "pace": _pace_line, "share": _share_line, "gold": _gold_line}
    return [line(found, lang) for kind, line in lines.items() if not only or kind in only]


# Which of the seed's numbers an alert of each default milestone carries (a rule of your own
# carries none): the pace with a rate move, what the Fed added with its balance sheet and the
# debt it buys, gold with what bonds pay.
ALERT_NUMBERS: dict[str, tuple[str, ...]] = {
    "rate_cut": ("pace",), "easing_cycle_starts": ("pace",), "tightening_starts": ("pace",),
    "qt_ends": ("qt",), "reserves_grow": ("qt",), "balance_sheet_grows": ("qt",),
    "balance_sheet_expands": ("qt",), "debt_monetization": ("qt", "share"),
    "stimulus_into_bubble": ("qt", "pace"), "gold_beats_bonds": ("gold",),
    "bonds_lose_to_inflation": ("gold",), "breakevens_up_real_yields_down": ("gold",),
}


def alert_lines(found: SeedNumbers, rule_id: str, lang: str) -> list[str]:
    """The seed's numbers an alert of `rule_id` carries (none for a rule not listed)."""
    only = ALERT_NUMBERS.get(rule_id)
    return seed_lines(found, lang, only) if only else []


def _share_line(found: SeedNumbers, lang: str) -> str:
    if found.issuance_missing:
        return text(lang, "seed_share_missing", series=text(lang, "list_sep").join(
            text(lang, f"seed_series_{s}") for s in found.issuance_missing))
    share = found.issuance
    if share is None:
        since = found.issuance_since or found.as_of
        return text(lang, "seed_share_wait", since=since.isoformat(),
                    as_of=found.as_of.isoformat())
    values = {"fed": _money(share.fed, lang), "issued": _money(share.issued, lang),
              "start": share.start.isoformat(), "end": share.end.isoformat()}
    if share.share is None:
        return text(lang, "seed_share_negative", **values)
    return text(lang, "seed_share", share=format_value(share.share, "%", lang), **values)


@dataclass(frozen=True)
class RegimeFacts:
    """What /regime adds to the checklist: each one-off rule's event, the seed's numbers."""

    events: dict[str, str]
    numbers: list[str]


def regime_facts(insight: Insight, as_of: date, lang: str) -> RegimeFacts:
    """The events and numbers for the /regime answer on `as_of`."""
    return RegimeFacts(event_texts(insight, as_of, lang),
                       seed_lines(insight.seed_numbers(as_of), lang))
