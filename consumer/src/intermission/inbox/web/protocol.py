"""uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn times out an idle keep-alive connection, but a client that sends a request's headers a
byte at a time (slowloris) holds its connection for as long as it likes: each byte cancels that
timer. Here a connection whose next request's headers are not complete within the deadline
after it opened (or after its last response) is closed.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["with_header_timeout"]


class _HeaderDeadline(H11Protocol):
    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.header_timeout, self._late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _late(self) -> None:
        self._header_timer = None
        # Still IDLE: no request's headers have arrived whole since the timer was armed.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def with_header_timeout(seconds: float) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)``."""
    return type("H11WithHeaderTimeout", (_HeaderDeadline,), {"header_timeout": seconds})
