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
from sources.limits import Body, Deadline, FetchLimits, over
from sources.rss import FeedError, FeedItem, parse_rss

# Statuses worth retrying later; everything else 4xx means a person must act.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_LIMITS = FetchLimits()


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
    limits: FetchLimits = DEFAULT_LIMITS,
    rows: bool = False,
) -> bytes:
    """GET `url` and return the whole body, or raise SourceError saying what went wrong
    (`timeout` overrides the client's own per read, in seconds). The body is read within
    `limits` (sources/limits.py; `rows` counts its lines against the row cap), redirects are
    followed only within the same host, and the whole request ends by `limits.max_seconds`."""
    late = over(source, series_id, "max_seconds", f"{url}: not done within "
                f"{limits.max_seconds:g} s")
    with Deadline(limits.max_seconds) as deadline:
        try:
            body = _follow(client, url, params, timeout, limits, deadline, rows,
                           source=source, series_id=series_id)
        except (httpx.HTTPError, SourceError) as err:
            if deadline.expired:
                raise late from None
            if isinstance(err, SourceError):
                raise
            if isinstance(err, httpx.TimeoutException):
                raise SourceError(source, series_id, f"timed out: {url}", retryable=True) from err
            # Includes a body cut short (RemoteProtocolError): the server may do better next time.
            raise SourceError(
                source, series_id, f"{type(err).__name__}: {one_line(str(err))} ({url})",
                retryable=True,
            ) from err
    if deadline.expired:  # the watchdog's shutdown ends a body sent without a length
        raise late
    return body


def _follow(
    client: httpx.Client, url: str, params: Mapping[str, str] | None, timeout: float | None,
    limits: FetchLimits, deadline: Deadline, rows: bool, *, source: str,
    series_id: str | None,
) -> bytes:
    current, query = httpx.URL(url), dict(params) if params else None
    for _hop in range(limits.max_redirects + 1):
        request = client.build_request(
            # A fresh connection each time, so the watchdog sees its socket from the start.
            "GET", current, params=query,
            headers={"Accept-Encoding": "gzip, deflate", "Connection": "close"},
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            extensions={"trace": deadline.trace},
        )
        response = client.send(request, stream=True, follow_redirects=False)
        current, query = request.url, None
        try:
            deadline.watch(response.extensions.get("network_stream"))
            if response.is_redirect and "Location" in response.headers:
                current = _same_host(current, response, source=source, series_id=series_id)
                continue
            return _read(response, limits, rows, source=source, series_id=series_id)
        finally:
            response.close()
    raise SourceError(source, series_id, f"{url}: more than {limits.max_redirects} redirects")


def _same_host(origin: httpx.URL, response: httpx.Response, *, source: str,
               series_id: str | None) -> httpx.URL:
    """Where a redirect leads, when it stays on the host it came from (http may become https,
    never the reverse); otherwise SourceError."""
    target = origin.join(response.headers["Location"])
    downgrade = origin.scheme == "https" and target.scheme != "https"
    if target.host != origin.host or target.port != origin.port or downgrade:
        shown = f"{target.scheme}://{target.host}" + (f":{target.port}" if target.port else "")
        raise SourceError(source, series_id, f"{origin} redirects to {shown}: only redirects "
                          f"within {origin.scheme}://{origin.host} are followed (name the "
                          "final URL in the rules)")
    return target


def _read(response: httpx.Response, limits: FetchLimits, rows: bool, *, source: str,
          series_id: str | None) -> bytes:
    url = str(response.url)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise over(source, series_id, "max_bytes", f"{url}: Content-Length {int(declared):,} "
                   f"is more than {limits.max_bytes:,} bytes")
    consumed = response.is_stream_consumed  # a response hook of the client read it, decoded
    body = Body(limits, source=source, series_id=series_id, where=url,
                encoding="" if consumed else response.headers.get("Content-Encoding", ""),
                rows=rows and response.status_code < 400)
    for chunk in [response.content] if consumed else response.iter_raw():
        body.feed(chunk)
    data = body.bytes()
    if response.status_code >= 400:
        excerpt = one_line(data[:200].decode("utf-8", "replace"))
        raise HTTPStatusError(
            source,
            series_id,
            f"HTTP {response.status_code} from {url}: {excerpt}",
            status=response.status_code,
            retry_after=_retry_after(response),
        )
    return data


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


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
