"""The chat's own settings and the calendar: /tz, /quiet and /next (registered with
`bot.chat.registry` like every command; each docstring is the help line)."""

from __future__ import annotations

import asyncio
import difflib
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from bot.chat.parse import shown
from bot.chat.registry import Call, CommandContext, command
from bot.chat.types import Reply
from bot.i18n import text, when
from bot.ingest.calendar import NEXT_KINDS, next_release, release_of
from bot.store.quiet import QuietHours, zone
from rules import RuleSet


def chat_zone(ctx: CommandContext, call: Call) -> ZoneInfo:
    """The zone every time shown to this chat is in: its own, else CYCLEWATCH_TZ."""
    return zone(call.chat.tz, ctx.timezone)


@cache
def _zones() -> dict[str, str]:
    names = available_timezones() | {"UTC"}
    return {name.lower(): name for name in names if not name.startswith(("Etc/", "SystemV/"))}


def find_zone(typed: str) -> tuple[str | None, list[str]]:
    """The IANA zone typed (any case), else up to three close names ('shanghai' included)."""
    zones = _zones()
    key = typed.strip().lower()
    if key in zones:
        return zones[key], []
    by_city = {name.rsplit("/", 1)[-1].lower(): name for name in zones.values()}
    close = [by_city[k] for k in difflib.get_close_matches(key.replace(" ", "_"), by_city, n=3)]
    close += [zones[k] for k in difflib.get_close_matches(key, zones, n=3)]
    return None, list(dict.fromkeys(close))[:3]


def quiet_text(quiet: QuietHours | None, tz: ZoneInfo, lang: str) -> str:
    """Quiet hours in words: the window, the zone, what happens inside, what breaks through."""
    if quiet is None:
        return text(lang, "quiet_none")
    breaks = ""
    if quiet.breaks:
        breaks = text(lang, "quiet_breaks", severities=", ".join(sorted(quiet.breaks)))
    return text(lang, f"quiet_{quiet.mode}", start=f"{quiet.start:%H:%M}",
                end=f"{quiet.end:%H:%M}", zone=tz.key, breaks=breaks)


def settings_lines(ctx: CommandContext, call: Call) -> list[str]:
    """This chat's settings for /status: language, zone and quiet hours."""
    tz = chat_zone(ctx, call)
    lines = [text(call.lang, "settings_line", language=call.lang, zone=tz.key),
             quiet_text(call.chat.quiet, tz, call.lang)]
    if call.chat.briefing:
        lines.append(text(call.lang, "briefing_status"))
    return lines


@command("tz", admin_only=True)
async def tz(ctx: CommandContext, call: Call) -> Reply:
    """Set the time zone of every time shown here: /tz Asia/Shanghai (an IANA name)."""
    current = chat_zone(ctx, call)
    if not call.args:
        now = when(call.lang, ctx.clock(), current)
        return Reply(f"{text(call.lang, 'tz_current', zone=current.key, now=now)}\n"
                     f"{call.t('usage_tz')}", ephemeral=True)
    found, close = find_zone(call.args[0])
    if found is None:
        lines = [call.t("bad_zone", value=shown(call.args[0]))]
        if close:
            lines.append(call.t("did_you_mean", suggestions=", ".join(close)))
        return Reply("\n".join(lines), ephemeral=True)
    c = call.caller
    await asyncio.to_thread(ctx.subs.set_zone, c.platform, c.chat_id, found)
    return Reply(call.t("tz_set", zone=found, now=when(call.lang, ctx.clock(), ZoneInfo(found))))


@command("quiet", admin_only=True)
async def quiet(ctx: CommandContext, call: Call) -> Reply:
    """Quiet hours: /quiet 23:00-07:00 [silent|hold] [except milestone], or /quiet off."""
    tz_now = chat_zone(ctx, call)
    if not call.args:
        return Reply(f"{quiet_text(call.chat.quiet, tz_now, call.lang)}\n{call.t('usage_quiet')}",
                     ephemeral=True)
    c = call.caller
    found = None if call.args[0].lower() == "off" else QuietHours.parse(call.args)
    if found is None and call.args[0].lower() != "off":
        return Reply(call.t("usage_quiet"), ephemeral=True)
    if found is not None and call.chat.tz is None:
        # The window is meant in the zone the chat sees now; a later CYCLEWATCH_TZ must not move it.
        await asyncio.to_thread(ctx.subs.set_zone, c.platform, c.chat_id, tz_now.key)
    await asyncio.to_thread(ctx.subs.set_quiet, c.platform, c.chat_id, found, ctx.clock())
    return Reply(quiet_text(found, tz_now, call.lang))


def checks_by_release(ruleset: RuleSet | None) -> dict[str, list[str]]:
    """For each release kind of /next, the rules that read a series it updates."""
    found: dict[str, list[str]] = {kind: [] for kind in NEXT_KINDS}
    if ruleset is None:
        return found
    for rule in ruleset.rules:
        for name in sorted(rule.inputs):
            spec = ruleset.series.get(name)
            kind = release_of(spec.source, spec.id) if spec is not None else None
            if kind is not None and rule.id not in found[kind]:
                found[kind].append(rule.id)
    return found


def next_lines(ctx: CommandContext, call: Call, now: datetime) -> list[str]:
    """One line per release kind: when it comes in the chat's zone, and what it checks."""
    tz = chat_zone(ctx, call)
    checks = checks_by_release(ctx.insight.ruleset if ctx.insight else None)
    lines = []
    for kind in NEXT_KINDS:
        release = next_release(ctx.calendar, kind, now)
        at = when(call.lang, release.at, tz) if release else call.t("next_unknown")
        what = call.t(f"release_{release.kind if release else kind}")
        rules = ", ".join(checks[kind]) or call.t("next_checks_none")
        lines.append(call.t("next_line", release=what, when=at, rules=rules))
    return lines


def soonest_line(ctx: CommandContext, call: Call, now: datetime) -> str | None:
    """The "next release" hint of /status: the soonest release of any kind."""
    found = [r for kind in NEXT_KINDS if (r := next_release(ctx.calendar, kind, now))]
    if not found:
        return None
    first = min(found)
    return call.t("next_hint", release=call.t(f"release_{first.kind}"),
                  when=when(call.lang, first.at, chat_zone(ctx, call)))


@command("next")
async def next_(ctx: CommandContext, call: Call) -> Reply:
    """The next H.4.1, FOMC, MSPD and refunding releases, and what each checks."""
    lines = [call.t("next_title", zone=chat_zone(ctx, call).key)]
    lines += next_lines(ctx, call, ctx.clock())
    return Reply("\n".join(lines))


@command("briefing", admin_only=True)
async def briefing(ctx: CommandContext, call: Call) -> Reply:
    """The weekly briefing after each H.4.1 (the week in $ and bp): /briefing weekly|off."""
    choice = call.args[0].lower() if call.args else ""
    state = call.t(f"briefing_state_{call.chat.briefing or 'off'}")
    if choice not in ("weekly", "off"):
        return Reply(call.t("usage_briefing", state=state), ephemeral=True)
    c = call.caller
    await asyncio.to_thread(ctx.subs.set_briefing, c.platform, c.chat_id,
                            None if choice == "off" else choice)
    if choice == "off":
        return Reply(call.t("briefing_off"))
    release = next_release(ctx.calendar, "h41", ctx.clock())
    at = when(call.lang, release.at, chat_zone(ctx, call)) if release else call.t("next_unknown")
    return Reply(call.t("briefing_on", when=at))
