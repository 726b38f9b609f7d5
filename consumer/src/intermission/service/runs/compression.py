"""How a stored object's body is kept: as is (``none``) or zstd-compressed (``zstd``).

The codec is named in each object's seal header (see ``sealing``), so a reader needs no setting:
whatever a worker wrote, any worker of this release reads. The setting only chooses what new
objects are written with. zstandard is a plain dependency rather than an extra for that reason:
one worker turning compression on must never leave another unable to read a run. It is imported
on first use, so a worker that neither writes nor meets a compressed object never loads it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    import zstandard

__all__ = ["CODECS", "Compression", "UnreadableBody", "compress", "decompress"]

Compression: TypeAlias = Literal["none", "zstd"]
CODECS: tuple[Compression, ...] = ("none", "zstd")

# Below this a zstd frame saves nothing worth its CPU (claims and most journal entries are a few
# hundred bytes), so small bodies stay as they are even with compression on.
_WORTH_COMPRESSING = 512
# zstd's default level: on histories it keeps most of what level 19 gets, at a fraction of the
# CPU, and decompression speed does not depend on it.
_LEVEL = 3
# A frame states its decompressed size, and the decompressor allocates that much up front. A
# sealed object with no key (sha256 seals) can be written by anyone who can write the bucket, so
# a frame claiming more than any snapshot needs is refused instead of being allocated.
MAX_BODY_BYTES = 256 * 1024 * 1024


class UnreadableBody(Exception):
    """The body's bytes do not decode with their codec (or the codec is unknown)."""


@functools.cache
def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    # Made once, on first use: a worker that never meets a compressed object never imports it.
    # zstandard's objects are not for concurrent use by threads; seals are made and opened on
    # the event loop's thread.
    import zstandard

    return zstandard.ZstdCompressor(level=_LEVEL, write_content_size=True), zstandard.ZstdDecompressor()


def _zstd_decompress(payload: bytes) -> bytes:
    import zstandard

    _, decompressor = _zstd()
    try:
        size = zstandard.frame_content_size(payload)
        if size < 0 or size > MAX_BODY_BYTES:
            raise UnreadableBody(f"zstd frame states a size of {size} bytes (limit {MAX_BODY_BYTES})")
        return decompressor.decompress(payload)
    except zstandard.ZstdError as exc:
        raise UnreadableBody(f"zstd: {exc}") from exc


def compress(codec: Compression, body: bytes) -> tuple[Compression, bytes]:
    """The codec actually used and the bytes to store: ``none`` when compressing would not pay."""
    if codec == "none" or len(body) < _WORTH_COMPRESSING:
        return "none", body
    compressor, _ = _zstd()
    payload = compressor.compress(body)
    if len(payload) >= len(body):
        return "none", body
    return "zstd", payload


def decompress(codec: str, payload: bytes) -> bytes:
    """The body stored with ``codec``; UnreadableBody for an unknown codec or bad bytes."""
    if codec == "none":
        return payload
    if codec == "zstd":
        return _zstd_decompress(payload)
    raise UnreadableBody(f"unknown codec {codec!r} (this release reads {', '.join(CODECS)})")
