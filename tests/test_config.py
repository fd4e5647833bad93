"""Settings: defaults, `.env`, and one clear line per wrong value (never echoing a secret)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import ConfigError, host_port, load_settings
from bot.platforms.telegram.frontend import TelegramFrontEnd


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("CYCLEWATCH_") or name in (
                "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_LISTEN", "FRED_API_KEY"):
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
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:" + "a" * 35)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1:9443")

    async def handler(*_: object) -> None:
        raise AssertionError("not called")

    front = TelegramFrontEnd.from_settings(load_settings(), handler)  # type: ignore[arg-type]
    assert front.webhook_listen == ("127.0.0.1", 9443)


# --- one clear line and exit 2 for every bad setting ------------------------------------------


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("CYCLEWATCH_TZ", "Mars/Olympus", "CYCLEWATCH_TZ: Value error, not a time zone"),
    ("CYCLEWATCH_DB_URL", "sqlitefoo", "CYCLEWATCH_DB_URL: Value error, must be a sqlite:///"),
    ("CYCLEWATCH_DB_URL", "mysql://db/x", "CYCLEWATCH_DB_URL: Value error, must be a sqlite:///"),
    ("CYCLEWATCH_LOG_LEVEL", "chatty", "CYCLEWATCH_LOG_LEVEL: "),
    ("CYCLEWATCH_LOG_FORMAT", "xml", "CYCLEWATCH_LOG_FORMAT: "),
    # a token's shape is checked at start, and the token itself is never echoed
    ("TELEGRAM_BOT_TOKEN", "123456:short", "TELEGRAM_BOT_TOKEN: Value error, not a Telegram "
                                           "bot token: expected <digits>:<35 characters>"),
    ("TELEGRAM_BOT_TOKEN", "bot" + "A" * 35, "TELEGRAM_BOT_TOKEN: Value error, not a Telegram"),
    ("SLACK_BOT_TOKEN", "xapp-1-A0-secret", "SLACK_BOT_TOKEN: Value error, not a Slack bot "
                                            "token (OAuth): it starts with xoxb-"),
    ("SLACK_APP_TOKEN", "xoxb-1-secret", "SLACK_APP_TOKEN: Value error, not a Slack "
                                         "app-level token: it starts with xapp-"),
])
def test_a_bad_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    name: str, value: str, expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"cyclewatch: configuration error: {expected}")
    assert "TOKEN" not in name or value not in err


def test_a_sqlite_file_under_a_missing_directory_is_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = clean_env / "no" / "such" / "dir"
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{missing}/cw.db")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"the directory {missing} does not exist" in err
    assert not missing.exists()  # not created silently


@pytest.mark.parametrize("command", [["status"], ["backtest"]])
def test_an_unreachable_postgresql_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.setenv("CYCLEWATCH_DB_URL", "postgresql+psycopg://u:s3cret@127.0.0.1:1/cw")
    monkeypatch.setenv("CYCLEWATCH_RULES", str(Path(__file__).parents[1] / "rules.yaml"))
    assert main(command) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "s3cret" not in err
    assert lines[0].startswith("cyclewatch: cannot open the database "
                               "postgresql+psycopg://u:***@127.0.0.1:1/cw: ")


def test_a_misspelled_variable_is_a_warning_with_did_you_mean(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{clean_env / 'cw.db'}")
    monkeypatch.setenv("CYCLEWATCH_LOG_LEVL", "DEBUG")
    monkeypatch.setenv("CYCLEWATCH_HISTORY_DIR", str(clean_env))  # the test suite's own
    (clean_env / ".env").write_text("CYCLEWATCH_POLL_SECOND=5\n")
    assert main(["status", "--json"]) == 0  # a warning, not an error
    err = capsys.readouterr().err.splitlines()
    assert {
        "cyclewatch: warning: CYCLEWATCH_LOG_LEVL is not a cyclewatch setting (ignored); "
        "did you mean CYCLEWATCH_LOG_LEVEL?",
        "cyclewatch: warning: CYCLEWATCH_POLL_SECOND is not a cyclewatch setting (ignored); "
        "did you mean CYCLEWATCH_POLL_SECONDS?",
    } <= set(err)
    assert not any("CYCLEWATCH_DB_URL" in line or "HISTORY_DIR" in line for line in err)


@pytest.mark.parametrize("value", ["debug", "Debug", " warning "])
def test_the_log_level_is_accepted_in_any_case(monkeypatch: pytest.MonkeyPatch,
                                               value: str) -> None:
    monkeypatch.setenv("CYCLEWATCH_LOG_LEVEL", value)
    assert load_settings().log_level == value.strip().upper()


def test_json_logs_are_one_object_per_line_with_a_zone_and_masked_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import logging
    from datetime import datetime

    from bot.runtime.logsafe import configure_logging

    token = "123456789:" + "A" * 35
    monkeypatch.setenv("CYCLEWATCH_LOG_FORMAT", "JSON")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    configure_logging(load_settings())
    try:
        logging.getLogger("cyclewatch.test").warning("calling %s", f"https://x/bot{token}/getMe")
        try:
            raise ValueError(token)
        except ValueError:
            logging.getLogger("cyclewatch.test").exception("it failed")
    finally:
        logging.getLogger().handlers.clear()
    lines = capsys.readouterr().err.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    first = records[0]
    assert first["level"] == "WARNING" and first["logger"] == "cyclewatch.test"
    assert first["message"] == "calling https://x/bot***/getMe"
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None
    assert "ValueError" in records[1]["exception"] and token not in lines[1]


def test_text_logs_carry_the_zone_of_their_timestamp(
    capsys: pytest.CaptureFixture[str]
) -> None:
    import logging
    import re

    from bot.runtime.logsafe import configure_logging

    configure_logging(load_settings())
    try:
        logging.getLogger("cyclewatch.test").warning("hello")
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING "
                    r"cyclewatch\.test: hello$", line), line


def test_the_packaged_rules_are_used_when_no_file_is_at_hand(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CYCLEWATCH_RULES", raising=False)
    assert main(["check"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "using the default rules shipped with cyclewatch" in err
    assert "defaults/rules.yaml" in err
