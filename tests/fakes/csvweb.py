"""Wire-level fake of a web server publishing CSV and JSON series, on 127.0.0.1:0.

Documents are served by path with their content type; a path can be made slow (the reply
waits `hang` seconds, for timeout tests) or held until a test opens its `gate`; faults (500,
429, truncated, non-JSON HTML) come from `FakeServer.inject` like the other fakes. Unknown
paths answer 404 with an HTML page.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.fakes.fiscaldata import FakeServer, Reply


class CsvWebFake:
    """Serves `documents` (path -> Reply); `server.requests` lists every request path."""

    def __init__(self) -> None:
        self.documents: dict[str, Reply] = {}
        self.slow: dict[str, float] = {}
        self.gates: dict[str, threading.Event] = {}
        self.server = FakeServer(self._route)

    def url(self, path: str) -> str:
        """The full URL of `path` on this server."""
        return f"http://127.0.0.1:{self.server.port}/{path.lstrip('/')}"

    def serve_csv(self, path: str, text: str | bytes) -> str:
        """Publish CSV text at `path`; returns its URL."""
        body = text.encode() if isinstance(text, str) else text
        self.documents["/" + path.lstrip("/")] = Reply(200, body, "text/csv; charset=utf-8")
        return self.url(path)

    def serve_json(self, path: str, document: Any) -> str:
        """Publish a JSON document at `path`; returns its URL."""
        self.documents["/" + path.lstrip("/")] = Reply(200, json.dumps(document).encode())
        return self.url(path)

    def serve_raw(self, path: str, body: bytes, content_type: str = "text/html") -> str:
        """Publish any body (garbage, an HTML error page with status 200...) at `path`."""
        self.documents["/" + path.lstrip("/")] = Reply(200, body, content_type)
        return self.url(path)

    def hang(self, path: str, seconds: float) -> None:
        """Make replies at `path` wait `seconds` before the headers go out."""
        self.slow["/" + path.lstrip("/")] = seconds

    def gate(self, path: str) -> threading.Event:
        """Hold replies at `path` until the returned event is set (at most a minute): a
        publisher that stays slow exactly as long as a test needs."""
        gate = self.gates["/" + path.lstrip("/")] = threading.Event()
        return gate

    def count(self, path: str) -> int:
        """Requests seen for `path`, faults included."""
        wanted = "/" + path.lstrip("/")
        return sum(1 for p in self.server.requests if p.split("?")[0] == wanted)

    def _route(self, path: str, query: dict[str, list[str]], raw_query: str) -> Reply:
        delay = self.slow.get(path)
        if delay:
            time.sleep(delay)
        gate = self.gates.get(path)
        if gate is not None:
            gate.wait(timeout=60)
        reply = self.documents.get(path)
        if reply is None:
            return Reply(404, b"<html><body>Not Found</body></html>", "text/html")
        return reply
