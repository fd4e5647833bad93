"""Wire-level fake of a web server publishing CSV and JSON series, on 127.0.0.1:0.

Documents are served by path with their content type; a path can be made slow (the reply
waits `hang` seconds, for timeout tests) or held until a test opens its `gate`; faults (500,
429, truncated, non-JSON HTML) come from `FakeServer.inject` like the other fakes. Unknown
paths answer 404 with an HTML page.

`HostileWeb` is the attacker's server of docs/reliability.md (round 2): gzip bombs, endless
bodies, millions of rows, a byte a second, made lazily so a test pays only for what is read.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


Chunks = Callable[[], Iterator[bytes]]


@dataclass(frozen=True)
class Hostile:
    """One hostile reply: a status, headers, and a generator of the body (made lazily, so a
    2 GB body or a gzip bomb costs the test only what the client reads); `pause` seconds
    between chunks, and `trickle_head` sends the status line a byte at a time as well."""

    chunks: Chunks
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    pause: float = 0.0
    trickle_head: bool = False


class HostileWeb:
    """A server on 127.0.0.1:0 that answers each path with a `Hostile` reply, writing until
    the body ends or the client hangs up (then stops generating); `sent` counts body bytes."""

    def __init__(self) -> None:
        self.replies: dict[str, Hostile] = {}
        self.sent: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                reply = outer.replies.get(path)
                if reply is None:
                    self.send_error(404)
                    return
                head = [f"HTTP/1.0 {reply.status} X\r\n".encode()]
                head += [f"{k}: {v}\r\n".encode() for k, v in reply.headers.items()]
                head.append(b"Connection: close\r\n\r\n")
                try:
                    if reply.trickle_head:
                        for byte in b"".join(head):
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.pause)
                    self.wfile.write(b"".join(head))
                    for chunk in reply.chunks():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        outer.sent[path] = outer.sent.get(path, 0) + len(chunk)
                        if reply.pause:
                            time.sleep(reply.pause)
                except OSError:
                    pass  # the client hung up: that is the point
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The URL of `path` on this server (`host` may name it another way: localhost)."""
        return f"http://{host}:{self.port}/{path.lstrip('/')}"

    def serve(self, path: str, reply: Hostile) -> str:
        """Answer `path` with `reply`; returns its URL."""
        self.replies["/" + path.lstrip("/")] = reply
        return self.url(path)

    @contextmanager
    def running(self) -> Iterator[HostileWeb]:
        """Serve in a background thread for the duration of the block."""
        thread = threading.Thread(target=self.httpd.serve_forever,
                                  kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def gzip_bomb(expanded: int = 1 << 30) -> Iterator[bytes]:
    """A gzip stream of `expanded` zero bytes (1 GiB: about 1 MB compressed), made from one
    compressed MiB repeated: after a full flush deflate starts afresh, so each MiB of zeros
    compresses to the same bytes. The trailer is left out; no client should get that far."""
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    yield deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    for _ in range(expanded // len(zeros) - 1):
        yield block


def endless(total: int = 2 * 10**9, chunk: int = 1 << 16) -> Iterator[bytes]:
    """`total` bytes with no line break (2 GB by default), generated chunk by chunk."""
    piece = b"x" * chunk
    for _ in range(total // chunk):
        yield piece


def many_rows(rows: int = 10_000_000, per_chunk: int = 4096) -> Iterator[bytes]:
    """A CSV `Date,Price` of `rows` daily rows (10 M by default), generated as it is sent."""
    yield b"Date,Price\n"
    line = b"2000-01-01,1\n"
    for _ in range(rows // per_chunk):
        yield line * per_chunk


def trickle(text: bytes = b"Date,Price\n2000-01-01,1\n" * 1000) -> Iterator[bytes]:
    """`text` a byte at a time (with `Hostile.pause` between: a 1-byte/s server)."""
    for byte in text:
        yield bytes([byte])
