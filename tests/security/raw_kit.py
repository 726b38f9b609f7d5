"""HTTP as an attacker writes it: bytes on a socket, no client library to tidy them up."""

from __future__ import annotations

import asyncio


async def raw(url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (CRLFs added) and ``body`` as they are; the status and what came back."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(10):
            reply = await reader.read(65_536)
    finally:
        writer.close()
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, reply
