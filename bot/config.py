"""Configuration from the environment and a `.env` file, validated once at start."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RULES_FILE = Path("rules.yaml")


def package_version() -> str:
    """The installed version of cyclewatch (pyproject.toml is the one place it is set)."""
    try:
        return metadata.version("cyclewatch")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def packaged_rules() -> Path:
    """The default rules.yaml shipped inside the package."""
    return Path(str(resources.files("bot") / "defaults" / "rules.yaml"))


def state_dir() -> Path:
    """The user's state directory for cyclewatch (databases, chat history)."""
    return Path(platformdirs.user_state_dir("cyclewatch"))


def default_db_url() -> str:
    """SQLite under the user's state directory (created on first use)."""
    return f"sqlite:///{state_dir() / 'cyclewatch.db'}"


def data_db_url(data_dir: Path, kind: str = "data") -> str:
    """A SQLite store of its own for one data directory (`run --data`, `chat --data`), so
    file data never mix with the live store."""
    resolved = data_dir.expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    name = f"{kind}-{resolved.name or 'root'}-{digest}.db"
    return f"sqlite:///{state_dir() / name}"


# A bot id, a colon and 35 characters of [A-Za-z0-9_-] (https://core.telegram.org/bots/api)
TELEGRAM_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{35}")


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Every setting cyclewatch reads; each maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    db_url: str = Field(default_factory=default_db_url, alias="CYCLEWATCH_DB_URL")
    rules_path: Path = Field(Path("rules.yaml"), alias="CYCLEWATCH_RULES")
    data_dir: Path | None = Field(None, alias="CYCLEWATCH_DATA")
    http_addr: str = Field("127.0.0.1:9464", alias="CYCLEWATCH_HTTP_ADDR")
    # Every listening port (the HTTP server, Telegram's webhook): a request's head and then its
    # body must each arrive within the read timeout; an idle connection closes after the idle
    # timeout; connections at once per port (default: from the open-file limit).
    http_read_timeout: float = Field(5.0, gt=0, alias="CYCLEWATCH_HTTP_READ_TIMEOUT_SECONDS")
    http_idle_timeout: float = Field(10.0, gt=0, alias="CYCLEWATCH_HTTP_IDLE_TIMEOUT_SECONDS")
    http_max_connections: int | None = Field(None, gt=0,
                                             alias="CYCLEWATCH_HTTP_MAX_CONNECTIONS")
    # The web dashboard asks for it (bearer header, or ?token= once) when set.
    dashboard_token: SecretStr | None = Field(None, alias="CYCLEWATCH_DASHBOARD_TOKEN")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", alias="CYCLEWATCH_LOG_LEVEL"
    )
    log_format: Literal["text", "json"] = Field("text", alias="CYCLEWATCH_LOG_FORMAT")
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="CYCLEWATCH_ADMINS"
    )
    timezone: str = Field("America/New_York", alias="CYCLEWATCH_TZ")

    fred_api_key: SecretStr | None = Field(None, alias="FRED_API_KEY")
    fred_api_url: str = Field("https://api.stlouisfed.org/fred", alias="FRED_API_URL")
    fred_graph_url: str = Field(
        "https://fred.stlouisfed.org/graph/fredgraph.csv", alias="FRED_GRAPH_URL"
    )
    fred_timeout: float = Field(30.0, gt=0, alias="FRED_TIMEOUT")
    fred_rate: float = Field(2.0, gt=0, alias="FRED_RATE_PER_SECOND")
    # A source's quick retries within one fetch wait this long first, doubling after (a
    # server's longer Retry-After wins); the service's own backoff spaces the polls.
    source_retry_seconds: float = Field(1.0, ge=0, alias="CYCLEWATCH_SOURCE_RETRY_SECONDS")
    fiscaldata_url: str = Field(
        "https://api.fiscaldata.treasury.gov/services/api/fiscal_service", alias="FISCALDATA_URL"
    )
    fed_feeds_url: str = Field("https://www.federalreserve.gov/feeds", alias="FED_FEEDS_URL")
    treasury_press_url: str = Field(
        "https://home.treasury.gov/news/press-releases/feed", alias="TREASURY_PRESS_URL"
    )
    # Caps on what one fetch of a rules-file source may read (sources/limits.py).
    fetch_max_bytes: int = Field(20_000_000, gt=0, alias="CYCLEWATCH_FETCH_MAX_BYTES")
    fetch_max_body_bytes: int = Field(50_000_000, gt=0, alias="CYCLEWATCH_FETCH_MAX_BODY_BYTES")
    fetch_max_rows: int = Field(200_000, gt=0, alias="CYCLEWATCH_FETCH_MAX_ROWS")
    fetch_max_seconds: float = Field(120.0, gt=0, alias="CYCLEWATCH_FETCH_MAX_SECONDS")
    # URL prefixes the csv source reads elsewhere, `FROM=TO` comma-separated (a mirror of
    # raw.githubusercontent.com, or a test server).
    csv_mirrors: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, alias="CYCLEWATCH_CSV_MIRRORS"
    )

    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    # Where the webhook server listens; Telegram must reach it (often behind a reverse proxy).
    telegram_webhook_listen: str = Field("0.0.0.0:8443", alias="TELEGRAM_WEBHOOK_LISTEN")
    # Telegram paid broadcast (sendMessage allow_paid_broadcast, 0.1 Star a message): up to
    # this many messages a second overall instead of ~30, for a channel that needs it.
    telegram_paid_broadcast: bool = Field(False, alias="TELEGRAM_ALLOW_PAID_BROADCAST")
    telegram_paid_broadcast_rate: float = Field(1000.0, gt=0, le=1000,
                                                alias="TELEGRAM_PAID_BROADCAST_RATE")
    # A delivering process's lease on its outbox claims: renewed every quarter of it; when it
    # lapses (the process died or hangs) another process takes the claims over.
    outbox_lease_seconds: float = Field(20.0, gt=0, alias="CYCLEWATCH_OUTBOX_LEASE_SECONDS")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    webhook_url: str | None = Field(None, alias="CYCLEWATCH_WEBHOOK_URL")
    # The terminal as a chat platform: `cyclewatch chat` turns it on, `run` leaves stdin alone.
    console_chat: bool = Field(False, alias="CYCLEWATCH_CONSOLE_CHAT")
    console_chart_dir: Path | None = Field(None, alias="CYCLEWATCH_CHART_DIR")
    # Apprise URLs, whitespace-separated, each optionally `filter=` first (docs/operations.md).
    apprise_urls: SecretStr | None = Field(None, alias="CYCLEWATCH_APPRISE_URLS")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone; use an IANA name such as America/New_York") \
                from None
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("csv_mirrors", mode="before")
    @classmethod
    def _split_mirrors(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = {}
        for part in (p.strip() for p in value.split(",") if p.strip()):
            source, sep, target = (half.strip() for half in part.partition("="))
            if not sep or not all(u.startswith(("http://", "https://")) for u in (source, target)):
                raise ValueError("must be FROM=TO pairs of http(s) URL prefixes, e.g. "
                                 "https://raw.githubusercontent.com=http://127.0.0.1:8000")
            pairs[source] = target
        return pairs

    @field_validator("http_addr", "telegram_webhook_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9464")
        return value

    @field_validator(
        "fred_api_url", "fred_graph_url", "fiscaldata_url", "fed_feeds_url",
        "treasury_press_url", "telegram_api_url", "slack_api_url",
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if not value.endswith("api/") else value

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: SecretStr | None) -> SecretStr | None:
        # BotFather's shape; a typo is caught here instead of as a 401 after start-up.
        if value is not None and not TELEGRAM_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("not a Telegram bot token: expected <digits>:<35 characters> "
                             "as BotFather gives it")
        return value

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _slack_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        prefix = "xoxb-" if info.field_name == "slack_bot_token" else "xapp-"
        if value is not None and not value.get_secret_value().startswith(prefix):
            kind = "bot token (OAuth)" if prefix == "xoxb-" else "app-level token"
            raise ValueError(f"not a Slack {kind}: it starts with {prefix}")
        return value

    @field_validator("db_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            url = None
        if url is None or url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("must be a sqlite:///PATH or postgresql+psycopg://... URL")
        explicit = value != default_db_url()  # the default directory is created on first use
        if explicit and url.get_backend_name() == "sqlite" and url.database not in (
                None, "", ":memory:"):
            folder = Path(url.database).expanduser().parent
            if not folder.is_dir():
                raise ValueError(f"the directory {folder} does not exist (create it first)")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise ConfigError with one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        lines = []
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "config"
            shown = "" if _is_secret(name) else f" (got {problem.get('input')!r})"
            lines.append(f"{name}: {problem['msg']}{shown}")
        raise ConfigError("; ".join(lines)) from None


# Read by the test suite (DESIGN.md §6), not by the bot: set, they are no misspelling.
TOOLING_VARIABLES = frozenset({"CYCLEWATCH_HISTORY_DIR", "CYCLEWATCH_TEST_PG_URL"})


def unknown_variables(
    environ: Mapping[str, str], known: Iterable[str], prefix: str = "CYCLEWATCH_"
) -> list[str]:
    """One warning per `prefix*` variable no setting reads, with the closest known name."""
    names = sorted(set(known) | TOOLING_VARIABLES)
    warnings = []
    for name in sorted(environ):
        if not name.upper().startswith(prefix) or name.upper() in names:
            continue
        close = difflib.get_close_matches(name.upper(), names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"{name} is not a cyclewatch setting (ignored){hint}")
    return warnings


def env_names(*models: type[BaseSettings]) -> set[str]:
    """Every environment variable the given settings models read."""
    return {str(f.alias) for model in models for f in model.model_fields.values() if f.alias}


def environment(env_file: Path = Path(".env")) -> dict[str, str]:
    """The process environment plus the `.env` file's variables (what the settings read)."""
    from dotenv import dotenv_values

    found = {k: v or "" for k, v in dotenv_values(env_file).items()} if env_file.is_file() else {}
    found.update(os.environ)
    return found


def _is_secret(name: str) -> bool:
    return any(word in name.upper() for word in ("TOKEN", "SECRET", "KEY", "PASSWORD"))


def host_port(addr: str) -> tuple[str, int]:
    """Split a validated HOST:PORT setting."""
    host, _, port = addr.rpartition(":")
    return host, int(port)
