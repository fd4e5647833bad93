"""No token, key or password reaches a log line."""

from __future__ import annotations

import logging

from bot.config import load_settings
from bot.runtime.logsafe import MASK, RedactingFormatter, secrets_of

TG = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-"
SLACK = "xoxb-1111-2222-abcdefghijklmnop"


def test_every_configured_secret_is_masked() -> None:
    settings = load_settings(
        TELEGRAM_BOT_TOKEN=TG, SLACK_BOT_TOKEN=SLACK, SLACK_SIGNING_SECRET="s1gning-secret",
        FRED_API_KEY="abcdef0123456789abcdef0123456789",
        CYCLEWATCH_DB_URL="postgresql+psycopg://bot:hunter2pw@db/cyclewatch",
    )
    secrets = secrets_of(settings)
    assert {TG, SLACK, "s1gning-secret", "hunter2pw"} <= set(secrets)
    formatter = RedactingFormatter("%(message)s", secrets)
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1,
        "POST https://api.telegram.org/bot%s/sendMessage key=%s sig=%s db=%s", (
            TG, "abcdef0123456789abcdef0123456789", "s1gning-secret",
            "postgresql://bot:hunter2pw@db",
        ), None,
    )
    line = formatter.format(record)
    for secret in secrets:
        assert secret not in line
    assert line.count(MASK) == 4


def test_token_shapes_are_masked_even_when_not_configured() -> None:
    formatter = RedactingFormatter("%(message)s", [])
    text = formatter.redact(
        f"url /bot{TG}/getMe, slack {SLACK}, xapp-1-A0-123-abcdef0123, "
        "fred ?series_id=X&api_key=deadbeef&file_type=json"
    )
    assert TG not in text and SLACK not in text and "deadbeef" not in text
    assert "xapp-1-A0" not in text
    assert "series_id=X&api_key=***&file_type=json" in text


def test_tracebacks_are_masked_too() -> None:
    formatter = RedactingFormatter("%(message)s", ["topsecretvalue"])
    try:
        raise RuntimeError("failed with topsecretvalue")
    except RuntimeError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", None, sys.exc_info())
    assert "topsecretvalue" not in formatter.format(record)
