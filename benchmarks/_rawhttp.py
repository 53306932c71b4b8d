"""A minimal HTTP/1.1 client over ``asyncio.open_connection``, for load generators.

One keep-alive connection per :class:`Connection`, one request at a time on it; request bodies
go with ``Content-Length``; answers are read by ``Content-Length``, ``Transfer-Encoding:
chunked`` or (without either) until the end of the stream. Being this small keeps the load
generator's own CPU per request low beside the server's.

A connection that failed or timed out mid-answer is closed (its stream is out of step) and
reopened by the next request.
"""

from __future__ import annotations

import asyncio

__all__ = ["Connection", "HTTPError"]

#: Largest header block or chunk-size line read before giving up on an answer.
_LINE_LIMIT = 1 << 16
#: Most chunks read from one chunked body.
_MAX_CHUNKS = 100_000


class HTTPError(Exception):
    """The server's answer was not valid HTTP/1.1, or the connection closed mid-answer."""


class Connection:
    """A keep-alive HTTP/1.1 connection to ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; its status, headers (lower-case names) and body.

        Raises :class:`HTTPError` or :class:`OSError`; the connection is then closed.
        """
        try:
            return await self._request(method, path, body, content_type)
        except (HTTPError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            raise
        except asyncio.CancelledError:  # e.g. a timeout: the stream is out of step
            self.close()
            raise

    async def _request(
        self, method: str, path: str, body: bytes, content_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=_LINE_LIMIT
            )
        reader, writer = self._reader, self._writer
        assert reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode("latin-1") + b"\r\n" + body)
        await writer.drain()

        block = await reader.readuntil(b"\r\n\r\n")
        lines = block.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HTTPError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()

        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            data = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            data = await _chunked(reader)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise HTTPError(f"bad Content-Length {length!r}")
            data = await reader.readexactly(int(length))
        else:  # the body runs to the end of the stream
            data = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    for _ in range(_MAX_CHUNKS):
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HTTPError(f"bad chunk size {size_line!r}") from None
        if size == 0:
            for _ in range(_MAX_CHUNKS):  # trailers, up to an empty line
                if await reader.readuntil(b"\r\n") == b"\r\n":
                    return b"".join(chunks)
            raise HTTPError("endless trailers")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HTTPError("chunk not followed by CRLF")
    raise HTTPError(f"more than {_MAX_CHUNKS} chunks")
