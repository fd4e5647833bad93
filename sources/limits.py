"""Caps on what one fetch may read: bytes on the wire and decompressed, rows, and total time.

Every cap ends the fetch with a one-line, non-retryable SourceError naming the setting that
raises it (`CYCLEWATCH_FETCH_*`, bot/config.py). The body is decompressed here, in pieces no
larger than the room left under the cap, so a gzip bomb never expands past it; the time cap
is a watchdog that shuts the request's socket down, so a server sending a byte a second (or
trickling its headers) is cut off at the deadline whatever each read's timeout is.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import zlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sources.base import SourceError

# The environment variable behind each cap (bot/config.py reads them).
SETTINGS = {
    "max_bytes": "CYCLEWATCH_FETCH_MAX_BYTES",
    "max_body_bytes": "CYCLEWATCH_FETCH_MAX_BODY_BYTES",
    "max_rows": "CYCLEWATCH_FETCH_MAX_ROWS",
    "max_seconds": "CYCLEWATCH_FETCH_MAX_SECONDS",
}
# Content encodings decoded here (anything else is refused rather than passed on raw).
DECODED = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16,
           "deflate": zlib.MAX_WBITS | 32}


@dataclass(frozen=True)
class FetchLimits:
    """The caps of one fetch. The defaults hold the largest real input (FRED's daily series
    since 1954: 26,000 rows, 0.7 MB) many times over, and keep a fetch's memory near 100 MB."""

    max_bytes: int = 20_000_000  # received, before decompression
    max_body_bytes: int = 50_000_000  # after decompression
    max_rows: int = 200_000  # lines of a CSV, records of a JSON document
    max_seconds: float = 120.0  # the whole request: connect, headers, body, redirects
    max_redirects: int = 5  # each to the same host


def over(source: str, series_id: str | None, cap: str, what: str) -> SourceError:
    """The one-line error of a cap: what went over, and the setting that raises it."""
    return SourceError(source, series_id, f"{what}; stopped there ({SETTINGS[cap]} "
                       "raises the cap)")


class Body:
    """A response body collected within the caps: raw chunks in, the decoded bytes out."""

    def __init__(self, limits: FetchLimits, *, source: str, series_id: str | None,
                 where: str, encoding: str = "", rows: bool = False) -> None:
        self.limits = limits
        self.source, self.series_id, self.where = source, series_id, where
        self.rows = rows
        self.wire = 0
        self.lines = 0
        self.parts: list[bytes] = []
        self.size = 0
        self.encoding = encoding.strip().lower()
        if self.encoding in ("", "identity"):
            self.inflate: Any = None
        elif self.encoding in DECODED:
            self.inflate = zlib.decompressobj(DECODED[self.encoding])
        else:
            raise SourceError(source, series_id, f"{where}: Content-Encoding "
                              f"{self.encoding!r} is not supported (gzip, deflate or none)")

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk as received; SourceError once a cap is passed."""
        self.wire += len(chunk)
        if self.wire > self.limits.max_bytes:
            raise over(self.source, self.series_id, "max_bytes",
                       f"{self.where}: more than {self.limits.max_bytes:,} bytes received")
        if self.inflate is None:
            self._keep(chunk)
            return
        pending = chunk
        while pending:
            room = self.limits.max_body_bytes - self.size
            try:
                out = self.inflate.decompress(pending, room + 1)
            except zlib.error as err:
                raise SourceError(self.source, self.series_id,
                                  f"{self.where}: bad {self.encoding} body ({err})") from None
            self._keep(out)
            pending = self.inflate.unconsumed_tail
            if self.inflate.eof and self.inflate.unused_data:  # another gzip member follows
                pending = self.inflate.unused_data
                self.inflate = zlib.decompressobj(DECODED[self.encoding])

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limits.max_body_bytes:
            raise over(self.source, self.series_id, "max_body_bytes",
                       f"{self.where}: body larger than {self.limits.max_body_bytes:,} bytes"
                       + (" decompressed" if self.inflate is not None else ""))
        if self.rows:
            self.lines += data.count(b"\n")
            if self.lines > self.limits.max_rows + 1:  # the header line is no row
                raise over(self.source, self.series_id, "max_rows",
                           f"{self.where}: more than {self.limits.max_rows:,} rows")
        self.parts.append(data)

    def bytes(self) -> bytes:
        """Everything decoded so far."""
        return b"".join(self.parts)


class Deadline:
    """A watchdog over one request: after `seconds` it shuts down every socket the request
    opened (found through httpcore's `trace` extension, or the response's network stream),
    so the blocked read ends at once; `expired` says whether it fired."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True  # never keeps the process alive

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace callback: watch each connection the request opens."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        """Watch a network stream's socket (shut at once when already expired)."""
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            late = self.expired
        if late:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)
