"""Chat commands, written once for every platform: `await handle(ctx, caller, "/regime")`.

Each command is a plain function whose docstring is its (English) help text; the Chinese
help lines are `help_<name>` in bot/i18n/zh.yaml. Front ends only translate platform events
into a `Caller` and a command line, and a button press is the same call with its action.
"""

from __future__ import annotations

import asyncio
import difflib
from datetime import date
from typing import Any

import sqlalchemy as sa

from bot.alerts.mutenotice import active_mutes
from bot.alerts.payload import BRIEFING
from bot.chat import views
from bot.chat.parse import ascii_hint, parse_day, parse_duration, parse_line, shown
from bot.chat.registry import COMMANDS, Call, CommandContext, command
from bot.chat.seedtext import event_texts, regime_facts
from bot.chat.types import Caller, Reply
from bot.i18n import LANGUAGES, text, when
from bot.store.schema import events
from rules.alerttext import input_titles

SEVERITIES = ("milestone", "warning", "info")


__all__ = ["COMMANDS", "Call", "CommandContext", "command", "handle"]


def today(ctx: CommandContext, call: Call) -> date:
    """Today's date where the chat is (a Shanghai morning is still yesterday in New York)."""
    return ctx.clock().astimezone(settings.chat_zone(ctx, call)).date()


async def handle(ctx: CommandContext, caller: Caller, text_line: str) -> Reply:
    """Run one command line for `caller` and return the reply in the chat's language."""
    now = ctx.clock()
    chat = await asyncio.to_thread(
        ctx.subs.ensure_chat, caller.platform, caller.chat_id, is_group=caller.is_group,
        language_code=caller.language_code, now=now,
    )
    name, args = parse_line(text_line)
    call = Call(caller, chat, args)
    wait = ctx.limiter.take(f"{caller.platform}:{caller.user_id}")
    if wait > 0:
        return Reply(call.t("rate_limited", seconds=max(1, round(wait))), ephemeral=True)
    found = COMMANDS.get(name)
    if found is None:
        return _unknown(call, name)
    if found.admin_only and caller.is_group and not _is_admin(ctx, caller):
        return Reply(call.t("admins_only"), ephemeral=True)
    return await found.run(ctx, call)


def _is_admin(ctx: CommandContext, caller: Caller) -> bool:
    return caller.is_chat_admin or _is_bot_admin(ctx, caller)


def _is_bot_admin(ctx: CommandContext, caller: Caller) -> bool:
    """A CYCLEWATCH_ADMINS entry: `platform:user_id` (a bare user id is accepted too)."""
    return f"{caller.platform}:{caller.user_id}" in ctx.admins or caller.user_id in ctx.admins


def _unknown(call: Call, name: str) -> Reply:
    lines = [call.t("unknown_command", name=shown(name))]
    close = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.5)
    if close:
        lines.append(call.t("did_you_mean", suggestions=", ".join(f"/{c}" for c in close)))
    lines.append(call.t("see_help"))
    return Reply("\n".join(lines), ephemeral=True)


def _rule_ids(ctx: CommandContext) -> list[str]:
    return ctx.insight.rule_ids if ctx.insight else []


@command("start")
async def start(ctx: CommandContext, call: Call) -> Reply:
    """Say hello and show how to begin."""
    return Reply(f"{call.t('welcome')}\n\n{call.t('welcome_next')}")


@command("help")
async def help_(ctx: CommandContext, call: Call) -> Reply:
    """List every command."""
    lines = [call.t("help_title")]
    lines += [f"/{c.name} — {c.help(call.lang)}" for c in COMMANDS.values()]
    rules = ", ".join(_rule_ids(ctx)) or "—"
    lines += ["", call.t("help_footer", rules=rules)]
    return Reply("\n".join(lines))


def _check_target(ctx: CommandContext, call: Call, target: str) -> Reply | None:
    if target == "all" or target in SEVERITIES or target in _rule_ids(ctx):
        return None
    lines = [call.t("bad_target", target=shown(target))]
    close = difflib.get_close_matches(target, [*_rule_ids(ctx), *SEVERITIES, "all"], n=3)
    if close:
        lines.append(call.t("did_you_mean", suggestions=", ".join(close)))
    return Reply("\n".join(lines), ephemeral=True)


@command("subscribe", admin_only=True)
async def subscribe(ctx: CommandContext, call: Call) -> Reply:
    """Get alerts here: /subscribe [rule|severity|all] (default all)."""
    target = call.args[0].lower() if call.args else "all"
    if (refusal := _check_target(ctx, call, target)) is not None:
        return refusal
    c = call.caller
    if not await asyncio.to_thread(ctx.subs.subscribe, c.platform, c.chat_id, target,
                                   ctx.clock()):
        return Reply(call.t("already_subscribed", target=target))
    targets = ", ".join(await asyncio.to_thread(ctx.subs.targets, c.platform, c.chat_id))
    return Reply(call.t("subscribed", target=target, targets=targets))


@command("unsubscribe", admin_only=True)
async def unsubscribe(ctx: CommandContext, call: Call) -> Reply:
    """Stop alerts: /unsubscribe [rule|severity|all] (default: everything)."""
    c = call.caller
    target = call.args[0].lower() if call.args else None
    if target is None or (
        target == "all" and "all" not in await asyncio.to_thread(ctx.subs.targets, *_where(c))
    ):
        await asyncio.to_thread(ctx.subs.unsubscribe, c.platform, c.chat_id, None)
        return Reply(call.t("unsubscribed_all"))
    if await asyncio.to_thread(ctx.subs.unsubscribe, c.platform, c.chat_id, target) == 0:
        return Reply(call.t("not_subscribed", target=shown(target)))
    return Reply(call.t("unsubscribed", target=target))


def _where(caller: Caller) -> tuple[str, str]:
    return caller.platform, caller.chat_id


@command("regime")
async def regime(ctx: CommandContext, call: Call) -> Reply:
    """Where the cycle stands, with every gauge and milestone: /regime [YYYY-MM-DD]."""
    local = today(ctx, call)
    as_of = parse_day(call.args[0], local) if call.args else local
    if as_of is None:
        hint = ascii_hint(call.args[0])
        return Reply(call.t("bad_date", value=shown(call.args[0]), today=local)
                     + (f" {call.t('did_you_mean', suggestions=shown(hint))}" if hint else ""),
                     ephemeral=True)
    if ctx.insight is None or not await asyncio.to_thread(ctx.insight.has_data):
        return Reply(call.t("no_data"))
    insight = ctx.insight
    if call.args and (refusal := await asyncio.to_thread(
            views.outside_data, insight, as_of, call.lang)):
        return Reply(refusal, ephemeral=True)  # a date the data cannot answer: no work
    found = await asyncio.to_thread(insight.regime, as_of, call.lang)
    states = await asyncio.to_thread(insight.rules, as_of, call.lang)
    facts = await asyncio.to_thread(regime_facts, insight, as_of, call.lang)
    chart = (await asyncio.to_thread(views.dashboard_png, insight, found, call.lang)
             if ctx.charts else None)
    return Reply(views.regime_text(found, call.lang, states, facts), chart_png=chart)


@command("why")
async def why(ctx: CommandContext, call: Call) -> Reply:
    """Explain a rule: its state, latest value, threshold and last change: /why <rule>."""
    if not call.args:
        return Reply(call.t("usage_why"), ephemeral=True)
    rule_id = call.args[0].lower()
    if rule_id not in _rule_ids(ctx) or ctx.insight is None:
        unknown = Reply(call.t("unknown_rule", rule=shown(rule_id)), ephemeral=True)
        return _check_target(ctx, call, rule_id) or unknown
    if not await asyncio.to_thread(ctx.insight.has_data):
        return Reply(call.t("no_data"))
    found = await asyncio.to_thread(views.why, ctx.insight, rule_id, today(ctx, call), call.lang)
    return Reply(found.text, chart_png=found.chart if ctx.charts else None)


@command("rules")
async def rules(ctx: CommandContext, call: Call) -> Reply:
    """List every rule with its current state."""
    if ctx.insight is None or not await asyncio.to_thread(ctx.insight.has_data):
        return Reply(call.t("no_data"))
    day = today(ctx, call)
    found = await asyncio.to_thread(ctx.insight.rules, day, call.lang)
    happened = await asyncio.to_thread(event_texts, ctx.insight, day, call.lang)
    inputs = input_titles(ctx.insight.ruleset.file, call.lang)
    return Reply(views.rules_text(found, call.lang, inputs, happened))


def _recent_events(ctx: CommandContext, limit: int) -> list[sa.Row[Any]]:
    query = (sa.select(events).where(events.c.rule_id != BRIEFING)  # briefings are no alerts
             .order_by(events.c.obs_date.desc(), events.c.id.desc()).limit(limit))
    with ctx.store.engine.connect() as conn:
        return list(conn.execute(query).all())


@command("history")
async def history(ctx: CommandContext, call: Call) -> Reply:
    """The most recent alerts (newest first)."""
    rows = await asyncio.to_thread(_recent_events, ctx, 15)
    if not rows:
        return Reply(call.t("history_none"))
    lines = [call.t("history_title")]
    lines += [views.history_line(row.obs_date, row.state, row.payload, call.lang) for row in rows]
    return Reply("\n".join(lines))


@command("mute", admin_only=True)
async def mute(ctx: CommandContext, call: Call) -> Reply:
    """Silence one rule in this chat for a while: /mute <rule> <duration> (e.g. 7d, 12h)."""
    if len(call.args) != 2:
        muted = await asyncio.to_thread(active_mutes, ctx.store, call.caller.platform,
                                        call.caller.chat_id, ctx.clock())
        listed = f"\n{call.t('muted_list', rules=', '.join(muted))}" if muted else ""
        return Reply(call.t("usage_mute") + listed, ephemeral=True)
    rule_id, span_text = call.args[0].lower(), call.args[1]
    if rule_id not in _rule_ids(ctx):
        return Reply(call.t("unknown_rule", rule=shown(rule_id)), ephemeral=True)
    span = parse_duration(span_text)
    if span is None:
        hint = ascii_hint(span_text)
        return Reply(call.t("bad_duration", value=shown(span_text))
                     + (f" {call.t('did_you_mean', suggestions=shown(hint))}" if hint else ""),
                     ephemeral=True)
    now = ctx.clock()
    until = now + span
    c = call.caller
    await asyncio.to_thread(ctx.subs.mute, c.platform, c.chat_id, rule_id, until, c.user_id, now)
    until_text = when(call.lang, until, settings.chat_zone(ctx, call))
    return Reply(call.t("muted", rule=rule_id, until=until_text))


@command("unmute", admin_only=True)
async def unmute(ctx: CommandContext, call: Call) -> Reply:
    """Lift a mute: /unmute <rule>."""
    if len(call.args) != 1:
        return Reply(call.t("usage_unmute"), ephemeral=True)
    rule_id = call.args[0].lower()
    if not await asyncio.to_thread(ctx.subs.unmute, call.caller.platform, call.caller.chat_id,
                                   rule_id):
        return Reply(call.t("not_muted", rule=shown(rule_id)))
    return Reply(call.t("unmuted", rule=rule_id))


@command("status")
async def status(ctx: CommandContext, call: Call) -> Reply:
    """How fresh every data source is, the next release, and this chat's settings."""
    found = await asyncio.to_thread(ctx.store.status)
    lines = settings.settings_lines(ctx, call)
    if (hint := settings.soonest_line(ctx, call, ctx.clock())) is not None:
        lines.append(hint)
    lines.append("")
    if not found:
        return Reply("\n".join([*lines, call.t("status_none")]))
    stale: dict[str, str] = {}
    if ctx.insight is not None:
        stale = await asyncio.to_thread(ctx.insight.stale_series, today(ctx, call))
    lines.append(call.t("status_title"))
    lines += [views.status_line(s, ctx.clock(), call.lang, stale.get(s.series)) for s in found]
    return Reply("\n".join(lines))


@command("lang", admin_only=True)
async def lang(ctx: CommandContext, call: Call) -> Reply:
    """Set this chat's language: /lang en|zh."""
    choice = call.args[0].lower() if call.args else ""
    choice = "zh" if choice.startswith("zh") or choice == "中文" else choice
    if choice not in LANGUAGES:
        return Reply(call.t("usage_lang"), ephemeral=True)
    await asyncio.to_thread(ctx.subs.set_language, call.caller.platform, call.caller.chat_id,
                            choice)
    return Reply(text(choice, "lang_set"))


@command("reload")
async def reload(ctx: CommandContext, call: Call) -> Reply:
    """Reload rules.yaml now (bot admins only); a broken file keeps the running rules."""
    if not _is_bot_admin(ctx, call.caller):
        return Reply(call.t("bot_admins_only"), ephemeral=True)
    if ctx.reload is None:
        return Reply(call.t("reload_unavailable"), ephemeral=True)
    return Reply(await ctx.reload())


# /tz, /quiet and /next live in their own module; imported last, so /help lists them last.
from bot.chat import settings  # noqa: E402
