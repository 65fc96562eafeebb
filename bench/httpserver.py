"""A small HTTP/1.1 server on an asyncio protocol, for the loopback servers of the benchmark.

It keeps connections alive, reads bodies by Content-Length or chunked encoding, replies to
`Expect: 100-continue`, and stamps each request with the `time.perf_counter()` at which its
last byte was read, so the benchmark can time what arrives. It binds 127.0.0.1 only.

A protocol rather than asyncio streams, because the harness's own time per request is
part of every latency it measures: the handler may return a `Response` at once, and only
a handler that has to wait (a long poll, a stub delay) returns a coroutine.
"""

import asyncio
import time
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024

REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict  # lowercase names
    body: bytes
    arrived: float  # time.perf_counter() when the whole request had been read
    connection: int  # serial number of the TCP connection, from 1


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)


class BadRequest(Exception):
    pass


class HttpServer:
    """Serves `handler(request)`, which returns a `Response` or a coroutine of one, on 127.0.0.1."""

    def __init__(self, handler):
        self.handler = handler
        self.connections = 0
        self.requests = 0
        self._server = None
        self._protocols = set()

    async def start(self, port=0):
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host="127.0.0.1", port=port)
        return self._server.sockets[0].getsockname()[1]

    async def close(self):
        if self._server is not None:
            self._server.close()
            # A long-poll GET of a killed function can still wait for an event, so end it.
            for protocol in list(self._protocols):
                protocol.abort()
            await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.transport = None
        self.buffer = bytearray()
        self.head = None  # (method, path, headers) of a request whose body is still arriving
        self.body_length = 0
        self.chunked = False
        self.waiting = []  # requests read while an earlier one still waits for its response
        self.task = None
        self.number = 0

    def connection_made(self, transport):
        self.server.connections += 1
        self.number = self.server.connections
        self.server._protocols.add(self)
        self.transport = transport

    def connection_lost(self, exc):
        self.server._protocols.discard(self)
        if self.task is not None:
            self.task.cancel()

    def abort(self):
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data):
        self.buffer += data
        try:
            while True:
                request = self._parse()
                if request is None:
                    break
                self.server.requests += 1
                self.waiting.append(request)
        except (BadRequest, ValueError):
            self.transport.close()
            return
        self._dispatch()

    def _parse(self):
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    raise BadRequest("request header too large")
                return None
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            del self.buffer[:end + 4]
            method, path, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.head = (method, path, headers)
            self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            self.body_length = int(headers.get("content-length", "0"))
            if self.body_length > MAX_BODY_BYTES:
                raise BadRequest("request body too large")
            if headers.get("expect", "").lower() == "100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

        body = self._take_chunked() if self.chunked else self._take_body()
        if body is None:
            return None
        method, path, headers = self.head
        self.head = None
        return Request(method, path, headers, body, time.perf_counter(), self.number)

    def _take_body(self):
        if len(self.buffer) < self.body_length:
            return None
        body = bytes(self.buffer[:self.body_length])
        del self.buffer[:self.body_length]
        return body

    def _take_chunked(self):
        """Return the whole chunked body once its last chunk and trailer are in the buffer, else None."""
        position, parts = 0, []
        while True:
            line_end = self.buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(self.buffer[position:line_end]).split(b";")[0].strip(), 16)
            if size == 0:
                # The trailer section, often empty, ends with an empty line.
                trailer_end = self.buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return None
                del self.buffer[:trailer_end + 4]
                return b"".join(parts)
            start = line_end + 2
            if len(self.buffer) < start + size + 2:
                return None
            parts.append(bytes(self.buffer[start:start + size]))
            if sum(len(part) for part in parts) > MAX_BODY_BYTES:
                raise BadRequest("request body too large")
            position = start + size + 2

    def _dispatch(self):
        """Respond to waiting requests in order. A handler that returns a coroutine delays the ones behind it."""
        while self.waiting and self.task is None:
            request = self.waiting.pop(0)
            result = self.server.handler(request)
            if asyncio.iscoroutine(result):
                self.task = asyncio.ensure_future(result)
                self.task.add_done_callback(lambda task, request=request: self._finish(task, request))
                return
            self._write(result, request)

    def _finish(self, task, request):
        self.task = None
        if task.cancelled() or self.transport.is_closing():
            return
        self._write(task.result(), request)
        self._dispatch()

    def _write(self, response, request):
        reason = REASONS.get(response.status, "Status")
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        for name, value in response.headers.items():
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(response.body)}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        if request.headers.get("connection", "").lower() == "close":
            self.transport.close()
