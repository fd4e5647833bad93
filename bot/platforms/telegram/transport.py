"""The notifier's HTTP transport for python-telegram-bot on aiohttp: PTB's one-method request
interface (`BaseRequest.do_request`), so PTB keeps mapping statuses to its error tree. Sends
without files go as a JSON body (the Bot API reads one), which costs a fraction of a
form-encoded one; uploads (a chart) go as multipart. At paid-broadcast rates (1,000 messages
a second) the client's own work per request is most of our CPU: aiohttp's is about a third of
httpx's."""

from __future__ import annotations

import json

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp session (`pool_size` connections) with PTB's default timeouts."""

    def __init__(self, *, pool_size: int = 32, read_timeout: float = 5.0,
                 connect_timeout: float = 5.0, media_timeout: float = 20.0) -> None:
        self.pool_size = pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._media_timeout = media_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        """The default read timeout, seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (in the running loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size)
            self._session = aiohttp.ClientSession(connector=connector)

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One request; PTB maps the status and body to its errors."""
        await self.initialize()
        assert self._session is not None
        files = request_data is not None and request_data.contains_files
        read = self._media_timeout if files else self._read_timeout
        if not isinstance(read_timeout, DefaultValue) and read_timeout is not None:
            read = read_timeout
        connect = self._connect_timeout
        if not isinstance(connect_timeout, DefaultValue) and connect_timeout is not None:
            connect = connect_timeout
        timeout = aiohttp.ClientTimeout(sock_connect=connect, sock_read=read,
                                        total=connect + read + self._media_timeout)
        body: aiohttp.FormData | bytes | None = None
        headers = {"User-Agent": self.USER_AGENT}
        if request_data is not None and files:
            body = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mime) in request_data.multipart_data.items():
                if name not in request_data.json_parameters:
                    body.add_field(name, content, filename=filename, content_type=mime)
        elif request_data is not None:  # nested values as JSON objects, as the API reads them
            body = json.dumps(request_data.parameters).encode()
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
