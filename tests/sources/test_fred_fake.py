"""The fake FRED speaks FRED's wire format (so the adapter tests mean something)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

import httpx
import pytest

from tests.fakes.fred import API_KEY, FakeFred


def api(fred: FakeFred, http: httpx.Client, route: str, **params: str) -> httpx.Response:
    query = {"api_key": API_KEY, **params}
    return http.get(f"{fred.url}/fred/{route}", params=query)


def as_json(response: httpx.Response) -> dict[str, Any]:
    payload: dict[str, Any] = response.json()
    return payload


def test_series_info_json_and_xml(fred: FakeFred, http: httpx.Client) -> None:
    info = as_json(api(fred, http, "series", series_id="WALCL", file_type="json"))["seriess"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d-0[56]", info["last_updated"])
    assert info["frequency_short"] == "W" and isinstance(info["popularity"], int)
    root = ET.fromstring(api(fred, http, "series", series_id="WALCL").content)
    assert root.tag == "seriess" and root[0].get("last_updated") == info["last_updated"]


def test_observations_paging_and_order(fred: FakeFred, http: httpx.Client) -> None:
    body = as_json(
        api(
            fred,
            http,
            "series/observations",
            series_id="WALCL",
            file_type="json",
            limit="5",
            offset="10",
            sort_order="desc",
        )
    )
    dates = [o["date"] for o in body["observations"]]
    assert body["count"] == len(fred.latest("WALCL")) and len(dates) == 5
    assert dates == sorted(dates, reverse=True)
    assert all(isinstance(o["value"], str) for o in body["observations"])
    xml = ET.fromstring(api(fred, http, "series/observations", series_id="WALCL").content)
    assert xml.tag == "observations" and len(xml) == body["count"]


def test_revisions_are_vintages_and_realtime_selects_them(
    fred: FakeFred, http: httpx.Client
) -> None:
    day = date(2026, 9, 30)
    fred.revise("WALCL", day, 1.5, on=date(2026, 10, 20))
    everything = as_json(
        api(
            fred,
            http,
            "series/observations",
            series_id="WALCL",
            file_type="json",
            realtime_start="1776-07-04",
            realtime_end="9999-12-31",
            observation_start=day.isoformat(),
            observation_end=day.isoformat(),
        )
    )["observations"]
    assert [(o["realtime_end"], o["value"]) for o in everything][1] == ("9999-12-31", "1.5")
    assert everything[0]["realtime_end"] == "2026-10-19"
    known_then = as_json(
        api(
            fred,
            http,
            "series/observations",
            series_id="WALCL",
            file_type="json",
            realtime_start="2026-10-19",
            realtime_end="2026-10-19",
            observation_start=day.isoformat(),
        )
    )["observations"]
    assert known_then[0]["value"] == everything[0]["value"] != "1.5"
    dates = as_json(api(fred, http, "series/vintagedates", series_id="WALCL", file_type="json"))
    assert dates["vintage_dates"][-1] == "2026-10-20"


def test_missing_values_are_dots_in_the_api_and_empty_in_csv(
    fred: FakeFred, http: httpx.Client
) -> None:
    fred.publish("WALCL", date(2026, 10, 14), None, on=date(2026, 10, 15))
    last = as_json(
        api(
            fred,
            http,
            "series/observations",
            series_id="WALCL",
            file_type="json",
            sort_order="desc",
            limit="1",
        )
    )["observations"][0]
    assert last["value"] == "."
    csv = http.get(f"{fred.url}/graph/fredgraph.csv", params={"id": "WALCL", "cosd": "2026-10-01"})
    assert csv.headers["content-type"] == "application/csv"
    lines = csv.text.splitlines()
    assert lines[0] == "observation_date,WALCL"
    assert [line.split(",")[0] for line in lines[1:]] == ["2026-10-07", "2026-10-14"]
    assert lines[-1] == "2026-10-14,"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"api_key": ""}, "Bad Request.  Variable api_key has not been set."),
        ({"api_key": "short"}, "Bad Request.  Variable api_key is not a 32 character"),
        ({"api_key": "z" * 32}, "Bad Request.  The value for variable api_key is not registered."),
        ({"series_id": "NOPE"}, "Bad Request.  The series does not exist."),
    ],
)
def test_error_bodies_in_xml_and_json(
    fred: FakeFred, http: httpx.Client, params: dict[str, str], message: str
) -> None:
    query = {"series_id": "WALCL", "api_key": API_KEY, **params}
    xml = http.get(f"{fred.url}/fred/series/observations", params=query)
    assert xml.status_code == 400
    assert (ET.fromstring(xml.content).get("message") or "").startswith(message)
    js = http.get(f"{fred.url}/fred/series/observations", params={**query, "file_type": "json"})
    assert js.status_code == 400 and js.json()["error_code"] == 400
    assert js.json()["error_message"].startswith(message)


def test_the_vintage_cap_and_injected_faults(fred: FakeFred, http: httpx.Client) -> None:
    capped = api(
        fred,
        http,
        "series/observations",
        series_id="RRPONTSYD",
        realtime_start="1776-07-04",
        realtime_end="9999-12-31",
    )
    assert capped.status_code == 400
    assert "maximum number of vintage dates allowed (2000)" in capped.text
    fred.fail("series", "429")
    fred.fail("series", "500")
    limited = api(fred, http, "series", series_id="WALCL")
    assert limited.status_code == 429
    with pytest.raises(ET.ParseError):
        ET.fromstring(limited.content)  # not XML: what fredapi chokes on
    assert api(fred, http, "series", series_id="WALCL").status_code == 500
    assert api(fred, http, "series", series_id="WALCL").status_code == 200
    assert fred.counts()["series"] == 3
