"""The API's JSON error (``{"reason", "detail"}``), sent by middleware before any handler runs."""

from __future__ import annotations

import msgspec
from starlette.types import Send

__all__ = ["refuse"]


async def refuse(
    send: Send, status: int, reason: str, detail: str, *, headers: dict[str, str] | None = None
) -> None:
    body = msgspec.json.encode({"reason": reason, "detail": detail})
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
