"""Configuration from the environment and a `.env` file, validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def default_db_url() -> str:
    """SQLite under the user's state directory (created on first use)."""
    state = Path(platformdirs.user_state_dir("cyclewatch"))
    return f"sqlite:///{state / 'cyclewatch.db'}"


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Every setting cyclewatch reads; each maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    db_url: str = Field(default_factory=default_db_url, alias="CYCLEWATCH_DB_URL")
    rules_path: Path = Field(Path("rules.yaml"), alias="CYCLEWATCH_RULES")
    data_dir: Path | None = Field(None, alias="CYCLEWATCH_DATA")
    http_addr: str = Field("127.0.0.1:9464", alias="CYCLEWATCH_HTTP_ADDR")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", alias="CYCLEWATCH_LOG_LEVEL"
    )
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
    fiscaldata_url: str = Field(
        "https://api.fiscaldata.treasury.gov/services/api/fiscal_service", alias="FISCALDATA_URL"
    )
    fed_feeds_url: str = Field("https://www.federalreserve.gov/feeds", alias="FED_FEEDS_URL")
    treasury_press_url: str = Field(
        "https://home.treasury.gov/news/press-releases/feed", alias="TREASURY_PRESS_URL"
    )

    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    # Where the webhook server listens; Telegram must reach it (often behind a reverse proxy).
    telegram_webhook_listen: str = Field("0.0.0.0:8443", alias="TELEGRAM_WEBHOOK_LISTEN")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    webhook_url: str | None = Field(None, alias="CYCLEWATCH_WEBHOOK_URL")

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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

    @field_validator("db_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
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


def _is_secret(name: str) -> bool:
    return any(word in name.upper() for word in ("TOKEN", "SECRET", "KEY", "PASSWORD"))


def host_port(addr: str) -> tuple[str, int]:
    """Split a validated HOST:PORT setting."""
    host, _, port = addr.rpartition(":")
    return host, int(port)
