"""FileSource: FRED-format CSVs from a directory (fred/ or flat layout), with clear errors."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sources.base import SourceError
from sources.files import FileSource


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_flat_and_fred_layouts_read_the_same_series(tmp_path: Path, history_dir: Path) -> None:
    shutil.copy(history_dir / "fred" / "WALCL.csv", tmp_path / "WALCL.csv")
    flat = FileSource(tmp_path).fetch("WALCL").values
    nested = FileSource(history_dir).fetch("WALCL").values
    pd.testing.assert_series_equal(flat, nested)
    assert len(nested) == sum(1 for _ in (history_dir / "fred" / "WALCL.csv").open()) - 1
    assert flat.dtype == "float64" and flat.index.is_monotonic_increasing


def test_series_ids_cover_both_layouts(tmp_path: Path) -> None:
    write(tmp_path / "fred" / "AAA.csv", "observation_date,AAA\n2020-01-01,1\n")
    write(tmp_path / "BBB.csv", "observation_date,BBB\n2020-01-01,2\n")
    assert {"AAA", "BBB"} <= set(FileSource(tmp_path).series_ids())


def test_dot_and_empty_are_missing_and_dropped(tmp_path: Path) -> None:
    write(
        tmp_path / "X.csv",
        "observation_date,X\n2020-01-01,1.5\n2020-01-02,.\n2020-01-03,\n2020-01-06,2\n",
    )
    values = FileSource(tmp_path).fetch("X").values
    assert values.to_dict() == {pd.Timestamp("2020-01-01"): 1.5, pd.Timestamp("2020-01-06"): 2.0}


def test_old_date_header_bom_and_ten_zero_decimals(tmp_path: Path) -> None:
    (tmp_path / "Y.csv").write_bytes(b"\xef\xbb\xbfDATE,Y\r\n2020-01-01,6748567.0000000000\r\n")
    assert FileSource(tmp_path).fetch("Y").values.iloc[0] == 6748567.0


def test_since_keeps_later_observations(tmp_path: Path) -> None:
    write(tmp_path / "Z.csv", "observation_date,Z\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n")
    values = FileSource(tmp_path).fetch("Z", since=date(2020, 2, 1)).values
    assert list(values) == [2.0, 3.0]


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("observation_date,X\n2020-01-01,1\n2020-01-02,1\n2020-01-03,n/a\n", "X.csv:4", "n/a"),
        ("observation_date,X\n2020-01-01,1\n2020-01-02,1,5\n", "X.csv:3", "3 fields"),
        ("observation_date,X\n2020-01-01,1\n01/02/2020,2\n", "X.csv:3", "YYYY-MM-DD"),
        ("<html><body>Not Found</body></html>\n", "X.csv:1", "not a FRED-format CSV"),
        ("observation_date\n2020-01-01\n", "X.csv:1", "not a FRED-format CSV"),
    ],
    ids=["bad-value", "extra-field", "bad-date", "html", "one-column"],
)
def test_bad_rows_name_file_and_row(tmp_path: Path, body: str, where: str, what: str) -> None:
    write(tmp_path / "X.csv", body)
    with pytest.raises(SourceError) as caught:
        FileSource(tmp_path).fetch("X")
    assert where in caught.value.message
    assert what in caught.value.message
    assert not caught.value.retryable
    assert (tmp_path / "X.csv").read_text() == body  # the file is left as it was


def test_missing_series_and_missing_directory_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no NOPE\.csv under"):
        FileSource(tmp_path).fetch("NOPE")
    with pytest.raises(SourceError, match="does not exist"):
        FileSource(tmp_path / "absent")


def test_undecodable_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "W.csv").write_bytes(b"observation_date,W\n2020-01-01,\xff\xfe\n")
    with pytest.raises(SourceError, match=r"W\.csv cannot be read"):
        FileSource(tmp_path).fetch("W")
