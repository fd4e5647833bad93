"""One GET helper for httpx-based adapters: any transport or HTTP failure becomes SourceError."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from sources.base import SourceError
from sources.rss import FeedError, FeedItem, parse_rss

# Statuses worth retrying later; everything else 4xx means a person must act.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HTTPStatusError(SourceError):
    """An HTTP error status; `retry_after` is the server's Retry-After in seconds, if any."""

    def __init__(
        self, source: str, series_id: str | None, message: str, *, status: int,
        retry_after: float | None,
    ) -> None:
        super().__init__(source, series_id, message, retryable=status in RETRYABLE_STATUSES)
        self.status = status
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    text = response.headers.get("Retry-After", "").strip()
    return float(text) if text.isdigit() else None  # the HTTP-date form is not worth parsing


def get_bytes(
    client: httpx.Client,
    url: str,
    *,
    source: str,
    series_id: str | None = None,
    params: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> bytes:
    """GET `url` and return the whole body, or raise SourceError saying what went wrong
    (`timeout` overrides the client's own, in seconds)."""
    try:
        if timeout is None:
            response = client.get(url, params=dict(params) if params else None)
        else:
            response = client.get(url, params=dict(params) if params else None, timeout=timeout)
        body = response.read()
    except httpx.TimeoutException as err:
        raise SourceError(source, series_id, f"timed out: {url}", retryable=True) from err
    except httpx.HTTPError as err:
        # Includes a body cut short (RemoteProtocolError): the server may do better next time.
        raise SourceError(
            source, series_id, f"{type(err).__name__}: {err} ({url})", retryable=True
        ) from err
    if response.status_code >= 400:
        excerpt = body[:200].decode("utf-8", "replace").strip()
        raise HTTPStatusError(
            source,
            series_id,
            f"HTTP {response.status_code} from {url}: {excerpt}",
            status=response.status_code,
            retry_after=_retry_after(response),
        )
    return body


def _retryable(err: BaseException) -> bool:
    return isinstance(err, SourceError) and err.retryable


def retrier(
    attempts: int, retry_wait: float, sleep: Callable[[float], None] = time.sleep
) -> Retrying:
    """The house retry policy: retryable SourceErrors only, exponential backoff from
    `retry_wait` seconds, or the server's Retry-After when it asks for longer (capped at 5 min)."""
    backoff = wait_exponential(multiplier=retry_wait, max=60)

    def wait(state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        asked = err.retry_after if isinstance(err, HTTPStatusError) else None
        return max(backoff(state), min(asked or 0.0, 300.0))

    return Retrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(attempts),
        wait=wait,
        sleep=sleep,
        reraise=True,
    )


def read_feed(client: httpx.Client, url: str, *, source: str) -> list[FeedItem]:
    """GET an RSS 2.0 feed and parse its items; any failure is one SourceError."""
    try:
        return parse_rss(get_bytes(client, url, source=source))
    except FeedError as err:
        raise SourceError(source, None, f"{url}: {err}") from err
