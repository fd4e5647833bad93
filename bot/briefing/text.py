"""The weekly briefing in words, in English or Chinese and in the reader's time zone: the same
text for a chat, the console and `cyclewatch briefing`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.briefing.facts import NET_LIQUIDITY, Briefing, Line
from bot.chat.seedtext import pace_text
from bot.chat.views import regime_name
from bot.i18n import text, when
from rules import RuleSet
from rules.model import pick_language
from rules.seednumbers import Pace
from rules.units import MINUS, format_signed, format_value


def local_time(lang: str, at: datetime, tz: ZoneInfo) -> str:
    """An instant in the reader's zone: the usual words in English; in Chinese the date,
    weekday, clock and UTC offset (a zone's Latin name is not Chinese)."""
    if lang != "zh":
        return when(lang, at, tz)
    local = at.astimezone(tz)
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    shown = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return text(lang, "briefing_when", day=local.date().isoformat(),
                weekday=text(lang, f"weekday_{local.weekday()}"),
                clock=f"{local:%H:%M}", offset=shown)


def line_title(ruleset: RuleSet, name: str, lang: str) -> str:
    """A balance-sheet line's title in `lang`: the series' title, net liquidity's metric title."""
    if name == NET_LIQUIDITY:
        title = pick_language(ruleset.file.metric_titles.get(name), lang)
        return title or text(lang, "briefing_net_liquidity")
    spec = ruleset.series.get(name)
    return (pick_language(spec.title, lang) if spec is not None else None) or name


def _rule_title(ruleset: RuleSet, rule_id: str, lang: str) -> str:
    try:
        return pick_language(ruleset.rule(rule_id).spec.title, lang) or rule_id
    except KeyError:  # a rule the running rules no longer have
        return rule_id


def _bn(value: float | None, lang: str) -> str:
    """A change in $ bn (in Chinese, 亿美元: the unit a Chinese reader counts in)."""
    if lang == "zh" or value is None or abs(value) >= 1000:
        return format_signed(value, "$ bn", lang)
    shown = format_signed(value, None, lang)
    sign = shown[0] if shown[:1] in ("+", MINUS) else ""
    return text(lang, "briefing_bn", sign=sign, number=shown.removeprefix(sign))


def line_text(ruleset: RuleSet, line: Line, lang: str) -> str:
    """`• Reserve balances $2.9 tn: +$12.3 bn this week, −$40 bn over 4 weeks`."""
    week, month = line.changes
    return text(lang, "briefing_line", title=line_title(ruleset, line.name, lang),
                level=format_value(line.level, "$ bn", lang), week=_bn(week, lang),
                month=_bn(month, lang))


def _rate_line(found: Briefing, lang: str) -> str:
    if found.rate is None:
        return text(lang, "briefing_rate_none")
    paces = [p for p in (found.pace_6m, found.pace_12m) if p is not None]
    shown = text(lang, "briefing_sep").join(pace_text(p, lang) for p in paces)
    return text(lang, "briefing_rate", level=format_value(found.rate, "%", lang),
                pace=shown or text(lang, "moves_none"))


def _regime_line(found: Briefing, lang: str) -> str:
    now = regime_name(found.regime, lang)
    now = now[:1].upper() + now[1:]
    if found.regime_before is None or found.regime_before == found.regime:
        return text(lang, "briefing_regime_same", regime=now)
    return text(lang, "briefing_regime_changed", regime=now,
                before=regime_name(found.regime_before, lang))


def render(found: Briefing, ruleset: RuleSet, lang: str, tz: ZoneInfo) -> tuple[str, str]:
    """(title, body) of the briefing in `lang`, every time in `tz`."""
    week = found.week.isoformat()
    title = text(lang, "briefing_title", week=week)
    parts = [
        text(lang, "briefing_published", when=local_time(lang, found.published, tz)),
        _regime_line(found, lang),
        "\n".join([text(lang, "briefing_lines_heading", week=week),
                   *(line_text(ruleset, line, lang) for line in found.lines)]),
        _rate_line(found, lang),
    ]
    if found.moved:
        marks = {"firing": "🟢", "resolved": "⚪"}
        parts.append("\n".join([text(lang, "briefing_moved_heading"), *(
            text(lang, f"briefing_moved_{m.state}", mark=marks.get(m.state, "•"),
                 title=_rule_title(ruleset, m.rule_id, lang), day=m.day.isoformat())
            for m in found.moved)]))
    else:
        parts.append(text(lang, "briefing_moved_none"))
    releases = [text(lang, "briefing_release", release=text(lang, f"release_{kind}"),
                     when=local_time(lang, at, tz)) for at, kind in found.next_releases]
    parts.append("\n".join([text(lang, "briefing_next_heading"),
                            *(releases or [text(lang, "briefing_next_none")])]))
    return title, "\n\n".join(parts)


def pace_change_bp(pace: Pace | None) -> float | None:
    """The pace's net change in basis points (None without one)."""
    return None if pace is None else round(pace.change * 100, 4)
