"""Settings: defaults, `.env`, and one clear line per wrong value (never echoing a secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import ConfigError, host_port, load_settings
from bot.platforms.telegram.frontend import TelegramFrontEnd


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("CYCLEWATCH_DB_URL", "CYCLEWATCH_HTTP_ADDR", "TELEGRAM_BOT_TOKEN",
                 "TELEGRAM_WEBHOOK_LISTEN", "FRED_API_KEY", "CYCLEWATCH_ADMINS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_point_at_the_real_services_and_a_local_sqlite_file() -> None:
    settings = load_settings()
    assert settings.db_url.startswith("sqlite:///") and settings.db_url.endswith("cyclewatch.db")
    assert settings.fred_api_url == "https://api.stlouisfed.org/fred"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.http_addr == "127.0.0.1:9464"
    assert host_port(settings.telegram_webhook_listen) == ("0.0.0.0", 8443)


def test_dotenv_file_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("CYCLEWATCH_ADMINS=telegram:1, slack:U2\nFRED_TIMEOUT=7\n")
    settings = load_settings()
    assert settings.admins == ["telegram:1", "slack:U2"]
    assert settings.fred_timeout == 7


def test_wrong_values_are_named_in_one_line_and_secrets_are_not_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CYCLEWATCH_HTTP_ADDR", "nowhere")
    with pytest.raises(ConfigError, match=r"CYCLEWATCH_HTTP_ADDR: .*HOST:PORT"):
        load_settings()
    monkeypatch.setenv("CYCLEWATCH_HTTP_ADDR", "127.0.0.1:9464")
    monkeypatch.setenv("FRED_API_KEY", "x" * 5000)  # fine as a value; now a bad URL next to it
    monkeypatch.setenv("FRED_API_URL", "ftp://mirror")
    monkeypatch.setenv("FRED_TIMEOUT", "-1")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "FRED_API_URL" in err and "FRED_TIMEOUT" in err and "xxxx" not in err


def test_the_webhook_listens_where_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1:9443")

    async def handler(*_: object) -> None:
        raise AssertionError("not called")

    front = TelegramFrontEnd.from_settings(load_settings(), handler)  # type: ignore[arg-type]
    assert front.webhook_listen == ("127.0.0.1", 9443)
