"""Deadlines for slow HTTP clients: a request's headers, then its body, must arrive in time.

uvicorn's h11 protocol waits for a request for as long as the client keeps the connection
open: a client that opens a connection and sends nothing, or trickles its headers a byte
every few seconds (slowloris), or a 1 MiB body a few bytes at a time, holds a socket and
a slot for ever (its keep-alive timeout only runs *between* requests). This protocol
adds two deadlines per request:

- ``header_s``: from the connection (or the first byte of a next request on a kept-alive
  connection) until the request line and headers are complete;
- ``body_s``: from then until the body is complete.

Past a deadline the client gets ``408 Request Timeout`` with ``Connection: close`` and the
connection is closed; ``on_timeout(phase)`` counts it. A request whose body has arrived is
never timed while the app works on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_WAITING = (h11.IDLE, h11.SEND_BODY)  # their (the client's) states while a request arrives


def _timeout_response(phase: str) -> bytes:
    body = f"request {phase} not received in time\n".encode()
    head = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


def deadline_protocol(
    header_s: float, body_s: float, on_timeout: Callable[[str], None]
) -> type[H11Protocol]:
    """An h11 protocol class for ``uvicorn.Config(http=...)`` with these deadlines."""

    class DeadlineH11Protocol(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _phase = ""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm("headers", header_s)

        def data_received(self, data: bytes) -> None:
            if self._timer is None:  # the first byte of the next request
                self._arm("headers", header_s)
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
                self._arm("headers", header_s)  # part of a pipelined request is waiting

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _follow(self) -> None:
            state = self.conn.their_state
            if state is h11.SEND_BODY and self._phase == "headers":
                self._arm("body", body_s)
            elif state not in _WAITING:
                self._disarm()  # complete (or closed): the app's time is not the client's

        def _arm(self, phase: str, seconds: float) -> None:
            self._disarm()
            self._phase = phase
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._phase = None, ""

        def _expired(self) -> None:
            phase, self._timer = self._phase, None
            if self.transport.is_closing():
                return
            on_timeout(phase)
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(_timeout_response(phase))
            self.transport.close()

    return DeadlineH11Protocol
