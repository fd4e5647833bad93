"""Wire-level fake of the Fiscal Data API (api.fiscaldata.treasury.gov) on 127.0.0.1:0.

Speaks the real shapes: `filter=field:op:value`, `sort=-field`, `fields=a,b`, `page[number]` and
`page[size]` (arriving percent-encoded), `meta` with `total-count`/`total-pages`, `links` as query
fragments starting with "&", every value a string and nulls as "null", errors as
`{"error","message"}` with 400. Faults can be injected per request: 500, 429, a truncated body,
a non-JSON body, or JSON of the wrong shape.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/services/api/fiscal_service/"
FAULTS = ("500", "429", "truncated", "nonjson", "badshape")


@dataclass
class Reply:
    """What the fake answers: status, headers, body (and whether to cut the body short)."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False


def fault_reply(kind: str) -> Reply:
    """The reply of one injected fault."""
    if kind == "500":
        return Reply(500, b"<html><body>Internal Server Error</body></html>", "text/html")
    if kind == "429":
        return Reply(429, b"Too Many Requests", "text/plain", {"Retry-After": "1"})
    if kind == "truncated":
        return Reply(200, b'{"data":[{"record_date":"2026-', truncate=True)
    if kind == "nonjson":
        return Reply(200, b"<html>maintenance</html>", "text/html")
    if kind == "badshape":
        return Reply(200, b'{"data":"none","meta":{}}')
    raise ValueError(f"unknown fault {kind!r}")


class FakeServer:
    """A threaded HTTP server on 127.0.0.1:0 whose replies come from `route(path, query)`."""

    def __init__(self, route: Callable[[str, dict[str, list[str]], str], Reply]) -> None:
        self.requests: list[str] = []
        self.faults: list[tuple[str, Callable[[str, dict[str, list[str]]], bool]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                reply = outer._take_fault(parts.path, query) or route(parts.path, query,
                                                                      parts.query)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                length = len(reply.body) + (100 if reply.truncate else 0)
                self.send_header("Content-Length", str(length))
                if reply.truncate:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply.body)
                if reply.truncate:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def inject(
        self, kind: str, *, times: int = 1,
        when: Callable[[str, dict[str, list[str]]], bool] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with fault `kind`."""
        fault_reply(kind)  # validate the name now
        for _ in range(times):
            self.faults.append((kind, when or (lambda _p, _q: True)))

    def _take_fault(self, path: str, query: dict[str, list[str]]) -> Reply | None:
        for i, (kind, when) in enumerate(self.faults):
            if when(path, query):
                del self.faults[i]
                return fault_reply(kind)
        return None

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        """Serve in a background thread for the duration of the block."""
        self.thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def _error(message: str) -> Reply:
    body = {"error": "Invalid Query Param", "message": message}
    return Reply(400, json.dumps(body).encode())


def _split_filters(text: str) -> list[tuple[str, str, str]]:
    # Commas separate filters except inside the parentheses of an `in` list.
    parts = re.findall(r"([^,:]+):(lt|lte|gt|gte|eq|in):(\([^)]*\)|[^,]*)", text)
    return [(f.strip(), op, value) for f, op, value in parts]


def _matches(row: dict[str, str], flt: tuple[str, str, str]) -> bool:
    name, op, value = flt
    have = row.get(name, "")
    if op == "in":
        return have in value.strip("()").split(",")
    return {
        "eq": have == value, "lt": have < value, "lte": have <= value,
        "gt": have > value, "gte": have >= value,
    }[op]


class FiscalDataFake:
    """Datasets (endpoint -> rows of strings) served the way Fiscal Data serves them."""

    def __init__(self) -> None:
        self.datasets: dict[str, list[dict[str, str]]] = {}
        self.server = FakeServer(self._route)

    @property
    def url(self) -> str:
        """The base URL to give the adapter (like FISCALDATA_URL)."""
        return f"http://127.0.0.1:{self.server.port}{PREFIX.rstrip('/')}"

    def _route(self, path: str, query: dict[str, list[str]], raw_query: str) -> Reply:
        endpoint = path.removeprefix(PREFIX)
        if not path.startswith(PREFIX) or endpoint not in self.datasets:
            return Reply(404, b'{"error":"Not Found","message":"no such endpoint"}')
        if "page[number]" in raw_query or "page[size]" in raw_query:
            return _error("page parameters must be percent-encoded")
        rows = list(self.datasets[endpoint])
        columns = list(rows[0]) if rows else []
        one = {k: v[-1] for k, v in query.items()}
        for flt in _split_filters(one.get("filter", "")):
            if flt[0] not in columns:
                return _error(f"Invalid filter field '{flt[0]}'.")
            rows = [r for r in rows if _matches(r, flt)]
        for key in reversed([k for k in one.get("sort", "").split(",") if k]):
            name = key.lstrip("-")
            if name not in columns:
                return _error(f"Invalid query parameter 'sort' with value '{key}'.")
            rows.sort(key=lambda r: r.get(name, ""), reverse=key.startswith("-"))
        if one.get("fields"):
            wanted = one["fields"].split(",")
            unknown = [f for f in wanted if f not in columns]
            if unknown:
                return _error(f"Invalid query parameter 'fields' with value '{unknown[0]}'.")
            rows = [{f: r[f] for f in wanted} for r in rows]
        try:
            number = int(one.get("page[number]", "1"))
            size = int(one.get("page[size]", "100"))
        except ValueError:
            return _error("page[number] and page[size] must be integers")
        pages = max(1, -(-len(rows) // size))
        chunk = rows[(number - 1) * size : number * size]

        def link(n: int) -> str:
            return f"&page%5Bnumber%5D={n}&page%5Bsize%5D={size}"

        body = {
            "data": chunk,
            "meta": {
                "count": len(chunk), "labels": {}, "dataTypes": {}, "dataFormats": {},
                "total-count": len(rows), "total-pages": pages,
            },
            "links": {
                "self": link(number), "first": link(1),
                "prev": link(number - 1) if number > 1 else None,
                "next": link(number + 1) if number < pages else None,
                "last": link(pages),
            },
        }
        return Reply(200, json.dumps(body).encode())
