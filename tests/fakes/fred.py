"""A fake FRED/ALFRED server on 127.0.0.1 that speaks the real wire format.

Serves the series of a history directory (``DIR/fred/<ID>.csv``) as `/fred/series`,
`/fred/series/observations`, `/fred/series/vintagedates` (XML by default, JSON with
``file_type=json``) and the keyless `/graph/fredgraph.csv`. Each CSV row is treated as first
published ``publication_lag`` days after its observation date (the fake's own assumption; the
values themselves are the real ones). Tests can publish new observations and revisions, count
requests per route, serve a fredgraph.csv body as is (`serve_csv`), and inject the failures
FRED really shows: 400 error bodies, a 429 with a plain-text body, a 500 HTML page, a hung
response, and the 2000-vintage cap.
"""

from __future__ import annotations

import csv
import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

EARLIEST = date(1776, 7, 4)
LATEST = date(9999, 12, 31)
MAX_VINTAGES = 2000
XML_DECL = '<?xml version="1.0" encoding="utf-8" ?>\n'
API_KEY = "abcdefghijklmnopqrstuvwxyz012345"
_KEY_DOC = "  Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."
NO_KEY = "Bad Request.  Variable api_key has not been set."
MALFORMED_KEY = (
    "Bad Request.  Variable api_key is not a 32 character alpha-numeric lower-case string."
    + _KEY_DOC
)
UNREGISTERED_KEY = "Bad Request.  The value for variable api_key is not registered." + _KEY_DOC
NO_SERIES = "Bad Request.  The series does not exist."
TOO_MANY_VINTAGES = "Bad Request.  This exceeds the maximum number of vintage dates allowed (2000)."
HTML_500 = (
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>Please try again later.</p></body></html>"
)


@dataclass
class Row:
    """One observation as published during [realtime_start, realtime_end]."""

    obs_date: date
    value: float | None
    realtime_start: date
    realtime_end: date = LATEST


@dataclass
class FakeSeries:
    """A series' full publication history inside the fake."""

    series_id: str
    rows: list[Row]
    last_updated: str

    def vintage_dates(self) -> list[date]:
        """Every date on which something was published or revised."""
        return sorted({row.realtime_start for row in self.rows})


@dataclass
class Fault:
    """A failure to answer the next request(s) of a route with."""

    kind: str  # "429" | "500" | "hang" | "slow" | "garbage"
    remaining: int
    delay: float = 0.0


@dataclass
class FakeFred:
    """State of the fake: series, request log, faults. Start it with `running()`."""

    history: Path
    publication_lag: int = 1
    api_keys: set[str] = field(default_factory=lambda: {API_KEY})
    max_rate: float | None = None  # answer 429 above this many requests per second
    today: date = field(default_factory=lambda: datetime.now(UTC).date())  # realtime default
    series: dict[str, FakeSeries] = field(default_factory=dict)
    requests: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    csv_bodies: dict[str, str] = field(default_factory=dict)  # fredgraph.csv served as is
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    # --- data --------------------------------------------------------------------------

    def get(self, series_id: str) -> FakeSeries | None:
        """The series, loaded from the history directory on first use."""
        with self.lock:
            if series_id not in self.series:
                path = self.history / "fred" / f"{series_id}.csv"
                if not series_id.isalnum() or not path.is_file():
                    return None
                self.series[series_id] = self._load(series_id, path)
            return self.series[series_id]

    def _load(self, series_id: str, path: Path) -> FakeSeries:
        rows = []
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for obs, value in reader:
                day = date.fromisoformat(obs)
                parsed = float(value) if value not in ("", ".") else None
                rows.append(Row(day, parsed, day + timedelta(days=self.publication_lag)))
        last = max(row.realtime_start for row in rows)
        return FakeSeries(series_id, rows, f"{last.isoformat()} 15:32:11-05")

    def publish(self, series_id: str, obs_date: date, value: float | None, on: date) -> None:
        """A new observation first published on `on` (None publishes a missing value)."""
        fake = self.get(series_id)
        assert fake is not None, series_id
        with self.lock:
            fake.rows.append(Row(obs_date, value, on))
            fake.rows.sort(key=lambda row: (row.obs_date, row.realtime_start))
            fake.last_updated = f"{on.isoformat()} 15:32:11-05"

    def revise(self, series_id: str, obs_date: date, value: float | None, on: date) -> None:
        """Replace the current value of `obs_date` from `on` on (a new vintage)."""
        fake = self.get(series_id)
        assert fake is not None, series_id
        with self.lock:
            current = [r for r in fake.rows if r.obs_date == obs_date and r.realtime_end == LATEST]
            assert current, f"{series_id} has no observation on {obs_date}"
            current[0].realtime_end = on - timedelta(days=1)
        self.publish(series_id, obs_date, value, on)

    def latest(self, series_id: str) -> dict[date, float | None]:
        """The current value of every observation date."""
        fake = self.get(series_id)
        assert fake is not None, series_id
        return {r.obs_date: r.value for r in fake.rows if r.realtime_end == LATEST}

    # --- test controls -----------------------------------------------------------------

    def fail(self, route: str, kind: str, times: int = 1, delay: float = 0.0) -> None:
        """Answer the next `times` requests of `route` with a failure of `kind`."""
        with self.lock:
            self.faults.setdefault(route, []).append(Fault(kind, times, delay))

    def serve_csv(self, series_id: str, body: str | None) -> None:
        """Answer fredgraph.csv for `series_id` with `body` as is (None: the data again)."""
        with self.lock:
            if body is None:
                self.csv_bodies.pop(series_id, None)
            else:
                self.csv_bodies[series_id] = body

    def count(self, route: str) -> int:
        """How many requests `route` received."""
        return sum(1 for name, _, _ in self.requests if name == route)

    def times(self, route: str | None = None) -> list[float]:
        """Monotonic arrival times of the requests (of one route, or all)."""
        return [at for name, at, _ in self.requests if route is None or name == route]

    def params(self, route: str) -> list[dict[str, str]]:
        """The query parameters of every request of `route`, in order."""
        return [params for name, _, params in self.requests if name == route]

    def counts(self) -> Counter[str]:
        """Requests per route."""
        return Counter(name for name, _, _ in self.requests)

    def _take_fault(self, route: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(route, [])
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def _over_rate(self, at: float) -> bool:
        if self.max_rate is None:
            return False
        with self.lock:
            recent = [t for _, t, _ in self.requests if at - t < 1.0]
        return len(recent) > self.max_rate

    # --- server ------------------------------------------------------------------------

    def running(self) -> _Running:
        """A context manager that serves this fake on 127.0.0.1 (a free port)."""
        return _Running(self)


class _Running:
    def __init__(self, fake: FakeFred) -> None:
        self.fake = fake
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeFred:
        host, port = self.server.server_address[:2]
        self.fake.url = f"http://{host!s}:{port}"
        self.thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self.fake.release.set()  # let hung handlers finish
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _handler_for(fake: FakeFred) -> type[BaseHTTPRequestHandler]:
    class Handler(_FredHandler):
        pass

    Handler.fake = fake
    return Handler


class _FredHandler(BaseHTTPRequestHandler):
    fake: FakeFred
    routes: ClassVar[dict[str, str]] = {
        "/fred/series": "series",
        "/fred/series/observations": "observations",
        "/fred/series/vintagedates": "vintagedates",
        "/graph/fredgraph.csv": "fredgraph",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = self.routes.get(parts.path.rstrip("/"))
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        at = time.monotonic()
        if route is None:
            self._send(404, "text/html", "<html><body>Not Found</body></html>")
            return
        over = self.fake._over_rate(at)
        with self.fake.lock:
            self.fake.requests.append((route, at, params))
        fault = self.fake._take_fault(route)
        if over or (fault and fault.kind == "429"):
            self._send(429, "text/plain", "Too Many Requests")
            return
        if fault and fault.kind == "500":
            self._send(500, "text/html", HTML_500)
            return
        if fault and fault.kind == "hang":
            self.fake.release.wait()
            return
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault and fault.kind == "garbage":
            self._send(200, "text/xml", "<observations><observation date=")
            return
        if route == "fredgraph":
            self._fredgraph(params)
        else:
            self._api(route, params)

    # --- keyless CSV -------------------------------------------------------------------

    def _fredgraph(self, params: dict[str, str]) -> None:
        series = self.fake.get(params.get("id", ""))
        if series is None:
            self._send(404, "text/html", "<html><body>Series not found</body></html>")
            return
        body = self.fake.csv_bodies.get(series.series_id)
        if body is not None:
            self._send(200, "application/csv", body)
            return
        start = _day(params.get("cosd"), EARLIEST)
        end = _day(params.get("coed"), LATEST)
        lines = [f"observation_date,{series.series_id}"]
        for obs, value in sorted(self.fake.latest(series.series_id).items()):
            if start <= obs <= end:
                lines.append(f"{obs.isoformat()},{'' if value is None else _num(value)}")
        self._send(200, "application/csv", "\n".join(lines) + "\n")

    # --- API ---------------------------------------------------------------------------

    def _api(self, route: str, params: dict[str, str]) -> None:
        as_json = params.get("file_type") == "json"
        key = params.get("api_key")
        if not key:
            self._error(as_json, NO_KEY)
            return
        if len(key) != 32 or not key.isalnum() or key.lower() != key:
            self._error(as_json, MALFORMED_KEY)
            return
        if key not in self.fake.api_keys:
            self._error(as_json, UNREGISTERED_KEY)
            return
        series = self.fake.get(params.get("series_id", ""))
        if series is None:
            self._error(as_json, NO_SERIES)
            return
        try:
            if route == "series":
                self._series(series, as_json)
            elif route == "vintagedates":
                self._vintagedates(series, params, as_json)
            else:
                self._observations(series, params, as_json)
        except ValueError as err:
            self._error(as_json, f"Bad Request.  {err}")

    def _series(self, series: FakeSeries, as_json: bool) -> None:
        today = self.fake.today.isoformat()
        dates = [r.obs_date for r in series.rows]
        info = {
            "id": series.series_id,
            "realtime_start": today,
            "realtime_end": today,
            "title": series.series_id,
            "observation_start": min(dates).isoformat(),
            "observation_end": max(dates).isoformat(),
            "frequency": _frequency(dates),
            "frequency_short": _frequency(dates)[0],
            "units": "Units",
            "units_short": "Units",
            "seasonal_adjustment": "Not Seasonally Adjusted",
            "seasonal_adjustment_short": "NSA",
            "last_updated": series.last_updated,
            "popularity": 50,
        }
        if as_json:
            self._json({"realtime_start": today, "realtime_end": today, "seriess": [info]})
            return
        attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in info.items())
        self._xml(
            f'<seriess realtime_start="{today}" realtime_end="{today}"><series {attrs}/></seriess>'
        )

    def _vintagedates(self, series: FakeSeries, params: dict[str, str], as_json: bool) -> None:
        start = _day(params.get("realtime_start"), EARLIEST)
        end = _day(params.get("realtime_end"), LATEST)
        dates = [d for d in series.vintage_dates() if start <= d <= end]
        if params.get("sort_order") == "desc":
            dates.reverse()
        offset, limit = _int(params, "offset", 0), _int(params, "limit", 10000)
        page = [d.isoformat() for d in dates[offset : offset + limit]]
        head = {
            "realtime_start": start.isoformat(),
            "realtime_end": end.isoformat(),
            "order_by": "vintage_date",
            "sort_order": params.get("sort_order", "asc"),
            "count": len(dates),
            "offset": offset,
            "limit": limit,
        }
        if as_json:
            self._json({**head, "vintage_dates": page})
            return
        body = "".join(f"<vintage_date>{d}</vintage_date>" for d in page)
        self._xml(f"<vintage_dates {_attrs(head)}>{body}</vintage_dates>")

    def _observations(self, series: FakeSeries, params: dict[str, str], as_json: bool) -> None:
        today = self.fake.today
        rt_start = _day(params.get("realtime_start"), today)
        rt_end = _day(params.get("realtime_end"), today)
        if rt_start > rt_end:
            raise ValueError("The value for variable realtime_start is after realtime_end.")
        vintages = [d for d in series.vintage_dates() if rt_start < d <= rt_end]
        if len(vintages) + 1 > MAX_VINTAGES:
            self._error(as_json, TOO_MANY_VINTAGES)
            return
        obs_start = _day(params.get("observation_start"), EARLIEST)
        obs_end = _day(params.get("observation_end"), LATEST)
        rows = [
            (r.obs_date, max(r.realtime_start, rt_start), min(r.realtime_end, rt_end), r.value)
            for r in series.rows
            if r.realtime_start <= rt_end
            and r.realtime_end >= rt_start
            and obs_start <= r.obs_date <= obs_end
        ]
        rows.sort(key=lambda row: (row[0], row[1]), reverse=params.get("sort_order") == "desc")
        offset, limit = _int(params, "offset", 0), _int(params, "limit", 100000)
        page = rows[offset : offset + limit]
        head = {
            "realtime_start": rt_start.isoformat(),
            "realtime_end": rt_end.isoformat(),
            "observation_start": obs_start.isoformat(),
            "observation_end": obs_end.isoformat(),
            "units": "lin",
            "output_type": 1,
            "file_type": "json" if as_json else "xml",
            "order_by": "observation_date",
            "sort_order": params.get("sort_order", "asc"),
            "count": len(rows),
            "offset": offset,
            "limit": limit,
        }
        items = [
            {
                "realtime_start": s.isoformat(),
                "realtime_end": e.isoformat(),
                "date": d.isoformat(),
                "value": "." if v is None else _num(v),
            }
            for d, s, e, v in page
        ]
        if as_json:
            self._json({**head, "observations": items})
            return
        body = "".join(f"<observation {_attrs(item)}/>" for item in items)
        self._xml(f"<observations {_attrs(head)}>{body}</observations>")

    # --- replies -----------------------------------------------------------------------

    def _error(self, as_json: bool, message: str) -> None:
        if as_json:
            body = json.dumps({"error_code": 400, "error_message": message})
        else:
            body = f'{XML_DECL}<error code="400" message={quoteattr(message)}/>'
        self._send(400, "text/xml;charset=utf-8", body)

    def _xml(self, body: str) -> None:
        self._send(200, "text/xml;charset=utf-8", XML_DECL + body)

    def _json(self, payload: dict[str, Any]) -> None:
        self._send(200, "application/json; charset=UTF-8", json.dumps(payload))

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


def _day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"The value {text!r} is not a valid date.") from None


def _int(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ValueError(f"Variable {name} is not an integer.")
    return int(text)


def _num(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".")


def _attrs(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in values.items())


def _frequency(dates: list[date]) -> str:
    if len(dates) < 2:
        return "Annual"
    gaps = sorted((b - a).days for a, b in itertools.pairwise(dates))
    median = gaps[len(gaps) // 2]
    for limit, name in (
        (1, "Daily"),
        (7, "Weekly, Ending Wednesday"),
        (31, "Monthly"),
        (92, "Quarterly"),
    ):
        if median <= limit:
            return name
    return "Annual"
