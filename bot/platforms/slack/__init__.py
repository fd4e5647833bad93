"""Slack: the notifier (Web API) and the front end (Socket Mode, signed slash commands).

`PLATFORM` is the registry entry; slack-sdk is imported only when it is used.
"""

from __future__ import annotations

from bot.chat.types import CommandHandler
from bot.config import Settings
from bot.platforms.base import Delivery, Intake, Platform

COMMANDS_PATH = "/slack/commands"


def _configured(settings: Settings) -> bool:
    return settings.slack_bot_token is not None


def _connect(settings: Settings) -> Delivery:
    from bot.platforms.slack.notifier import SlackNotifier

    return Delivery(SlackNotifier.from_settings(settings))


def _intake(settings: Settings, handler: CommandHandler) -> Intake:
    from bot.platforms.slack.frontend import SlackFrontEnd

    front = SlackFrontEnd.from_settings(settings, handler)
    # Slash commands over HTTP only when requests can be verified.
    signed = settings.slack_signing_secret is not None
    return Intake(front, routes={COMMANDS_PATH: front.handle_http} if signed else {})


PLATFORM = Platform("slack", configured=_configured, connect=_connect, intake=_intake)
