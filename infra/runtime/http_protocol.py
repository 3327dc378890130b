"""uvicorn's h11 protocol, answering what it refuses instead of dropping it.

uvicorn refuses some requests before the application sees them: a request line and
headers longer than h11's 16 KiB buffer, or HTTP h11 cannot parse. Our own BodyLimit
refuses a body over 1 MiB before reading it. Each time the server answered at once and
closed the connection while the client was still sending; the kernel then resets the
connection, and the client (urllib3, requests, schemathesis) fails its write with "EOF
occurred in violation of protocol" and never reads the answer waiting for it.

This protocol closes the way nginx's `lingering_close` does: when the server closes
while the client's request is unfinished, it keeps reading and discarding what the
client sends until the client has been quiet for LINGER_QUIET_S (or LINGER_MAX_S have
passed), then closes. The refusals themselves carry the API's JSON error body: 431 for
a request head over the limit, 400 for the rest.

A switch to httptools would not fix this: it also answers and closes at once.
"""

import asyncio
import json
from http import HTTPStatus
from typing import Any

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

LINGER_QUIET_S = 2.0
LINGER_MAX_S = 30.0
SETTLED = (h11.IDLE, h11.DONE, h11.MUST_CLOSE, h11.CLOSED)


class _LingeringTransport(asyncio.Transport):
    """The connection's transport, except that `close()` asks the protocol first."""

    def __init__(self, transport: asyncio.Transport, close: Any) -> None:
        super().__init__()
        self._transport = transport
        self._close = close
        self._closing = False

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._close()

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def abort(self) -> None:
        self._closing = True
        self._transport.abort()

    def write(self, data: Any) -> None:
        self._transport.write(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()


class LingeringH11Protocol(H11Protocol):
    """H11Protocol with a lingering close and JSON refusals (see the module's text)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._real_transport = transport
        self._lingering = False
        self._lost = False
        self._timers: list[asyncio.TimerHandle] = []
        super().connection_made(_LingeringTransport(transport, self._close_once_client_done))

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # discarded: the answer is already sent
            self._restart_quiet_timer()
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        for timer in self._timers:
            timer.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        if len(self.conn.trailing_data[0]) > limit:
            status, code = 431, "request_head_too_large"
            message = f"The request line and headers exceed {limit // 1024} KiB."
        else:
            status, code = 400, "malformed_http"
            message = "The request is not valid HTTP/1.1."
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def _close_once_client_done(self) -> None:
        if self._lost or self.conn.their_state in SETTLED:
            self._real_transport.close()
            return
        self._lingering = True
        self._real_transport.resume_reading()
        self._timers.append(self.loop.call_later(LINGER_MAX_S, self._real_transport.close))
        self._restart_quiet_timer()

    def _restart_quiet_timer(self) -> None:
        if len(self._timers) > 1:
            self._timers.pop().cancel()
        self._timers.append(self.loop.call_later(LINGER_QUIET_S, self._real_transport.close))
