"""What files a rules file may name (issue 22, round 2): only those under the data directory
(`CYCLEWATCH_DATA`, `--data`) or else the rules file's folder. `cyclewatch check` refuses the
rest in one line naming the setting and showing nothing of the file; the csv source refuses
them again at fetch time, whoever skipped the check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from bot.cli.main import main
from sources.base import SourceError
from sources.csv import CsvSource

SECRET = "tok-3f9a-never-shown"
RULES = """\
series:
  x: {source: csv, id: X, WHERE, date: Date, value: Price, unit: index}
rules:
  - id: x_up
    title: X is up
    on: x
    when: "x > 1"
"""


def rules_at(folder: Path, where: str) -> Path:
    path = folder / "rules.yaml"
    path.write_text(RULES.replace("WHERE", where), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rules folder, with a secret in the environment and a file just outside it."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_SHADOW", SECRET)
    monkeypatch.setenv("CYCLEWATCH_DB_URL", f"sqlite:///{tmp_path / 'cw.db'}")
    monkeypatch.delenv("CYCLEWATCH_DATA", raising=False)
    (tmp_path / "outside.csv").write_text(f"Date,Price\n2020-01-01,{SECRET}\n")
    inner = tmp_path / "rules"
    inner.mkdir()
    return inner


@pytest.mark.parametrize(("where", "key"), [
    ("url: /proc/self/environ", "url"),
    ("url: /etc/passwd", "url"),
    ("url: ../outside.csv", "url"),
    ("url: 'file:///etc/passwd'", "url"),
    ("url: FILE_URL_OUTSIDE", "url"),
    ("file: ../outside.csv", "file"),
    ("file: /etc/passwd", "file"),
])
def test_check_refuses_files_outside_in_one_line_without_their_content(
    folder: Path, where: str, key: str, capsys: pytest.CaptureFixture[str],
) -> None:
    outside = (folder.parent / "outside.csv").as_uri()
    path = rules_at(folder, where.replace("FILE_URL_OUTSIDE", json.dumps(outside)))
    assert main(["check", str(path)]) == 1
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).strip().splitlines()
    assert len(lines) == 1, lines
    [line] = lines
    assert line.startswith(f'{path}:2:') and f'series "x": {key}: ' in line
    assert "CYCLEWATCH_DATA" in line
    assert SECRET not in line and "root:" not in line  # nothing of the file shows


def test_check_with_a_data_directory_allows_its_files_and_names_it(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    (data / "other").mkdir(parents=True)
    (data / "other" / "x.csv").write_text("Date,Price\n2020-01-01,2\n")
    inside = rules_at(folder, "file: other/x.csv")
    assert main(["check", "--data", str(data), str(inside)]) == 0
    capsys.readouterr()
    # The rules' own folder is not the data directory once one is given.
    (folder / "near.csv").write_text("Date,Price\n2020-01-01,2\n")
    near = rules_at(folder, f"url: {json.dumps(str(folder / 'near.csv'))}")
    assert main(["check", "--data", str(data), str(near)]) == 1
    out = capsys.readouterr().out
    assert f"is outside the data directory {data.resolve()}" in out


def test_a_link_out_of_the_folder_is_refused_like_the_file_it_points_to(
    folder: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (folder / "innocent.csv").symlink_to("/proc/self/environ")
    path = rules_at(folder, "url: innocent.csv")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "'innocent.csv' is outside the rules file's folder" in out and SECRET not in out


def test_the_csv_source_refuses_the_same_paths_at_fetch_time(folder: Path) -> None:
    os.mkfifo(folder / "pipe.csv")  # inside, but reading it could block for ever
    options = {
        "ENV": {"url": "/proc/self/environ", "date": "Date", "value": "Price"},
        "UP": {"url": "../outside.csv", "date": "Date", "value": "Price"},
        "PIPE": {"url": "pipe.csv", "date": "Date", "value": "Price"},
    }
    with httpx.Client() as http:
        csv = CsvSource(http, lambda sid: options[sid], base_dir=folder)
        for series_id, words in [("ENV", "is outside the rules file's folder"),
                                 ("UP", "is outside the rules file's folder"),
                                 ("PIPE", "is not a regular file")]:
            with pytest.raises(SourceError) as caught:
                csv.fetch(series_id)
            assert words in caught.value.message and SECRET not in str(caught.value)
            assert not caught.value.retryable
            assert csv.files(series_id) == []  # never fingerprinted (read) either


def test_a_missing_file_under_the_folder_is_waited_for_not_an_error(folder: Path) -> None:
    options = {"date": "Date", "value": "Price", "file": "other/later.csv"}
    with httpx.Client() as http:
        csv = CsvSource(http, lambda _sid: options, base_dir=folder, offline=True)
        with pytest.raises(SourceError) as caught:
            csv.fetch("LATER")
    assert caught.value.retryable and "no file" in caught.value.message
