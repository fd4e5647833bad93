"""Logging for the service: one line per record, with every configured secret masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.config import Settings

MASK = "***"
# Token shapes that may reach a log from a library even when not configured here
# (a Telegram token in a request URL, a Slack token in an error body).
_TOKEN_PATTERNS = (
    re.compile(r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack bot/user tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{10,}"),  # Slack app-level token
    re.compile(r"(api_key=)[^&\s\"']+"),  # FRED key in a query string
)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (tokens, keys, the database password)."""
    found: list[str] = []
    for value in settings.model_dump().values():
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if secret:
                found.append(secret)
    try:
        password = make_url(settings.db_url).password
    except Exception:  # a URL SQLAlchemy cannot parse carries no password we could mask
        password = None
    if password:
        found.append(str(password))
    return found


class RedactingFormatter(logging.Formatter):
    """Formats a record, then masks every known secret and anything shaped like a token."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's local time with its UTC offset, e.g. 2026-01-05T16:31:02.123-05:00."""
        return datetime.fromtimestamp(record.created).astimezone().isoformat(
            timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one masked line (tracebacks stay on following lines)."""
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        """`text` with every secret and token-shaped string replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(
                lambda m: (m.group(1) if m.groups() else "") + MASK, text
            )
        return text


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time (with its zone), level, logger, message, and the
    traceback when there is one; secrets masked before encoding."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(message)s", secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The record as one masked JSON line."""
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings, level: str | None = None) -> None:
    """Log to stderr at the configured level (or `level`) and format; quiet the HTTP
    clients' per-request lines."""
    handler = logging.StreamHandler(sys.stderr)
    secrets = secrets_of(settings)
    handler.setFormatter(
        JsonFormatter(secrets) if settings.log_format == "json" else
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    # httpx logs every request URL at INFO, and Telegram puts the token in the URL.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # A periodic job still running at its next tick is skipped by design (max_instances=1).
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))


# What SQLAlchemy and the drivers append to an error: the statement, its parameters, a link.
_SQL_TAIL = re.compile(r"\s*(\[SQL:|\[parameters:|\(Background on this error|LINE \d+:|DETAIL:)")
_CREDENTIALS = re.compile(r"(://[^/\s:@]*:)[^@\s/]+@")  # a password in a URL
PUBLIC_ERROR_CHARS = 200


def public_error(error: BaseException | str | None,
                 limit: int = PUBLIC_ERROR_CHARS) -> str | None:
    """An error as a public page may show it: `Type: first line`, without the SQL statement,
    its parameters, credentials or token-shaped strings, and at most `limit` characters."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        lines = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    else:
        lines = error.strip().splitlines()
        text = lines[0] if lines else ""
    text = _SQL_TAIL.split(text, maxsplit=1)[0].rstrip()
    text = _CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text
