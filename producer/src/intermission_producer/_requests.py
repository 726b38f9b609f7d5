"""Checks on a GenerateRequest or a ResumeRequested before it is published."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec
from intermission_schemas import (
    EventDecodeError,
    GenerateRequest,
    ResumeRequested,
    decode_request,
    decode_resume,
    encode,
)

from ._errors import ClientUsageError

__all__ = ["check_request", "check_resume"]

E = TypeVar("E", GenerateRequest, ResumeRequested)


def check_request(request: GenerateRequest) -> None:
    """Raise ClientUsageError for a request the service could not de-duplicate or route, or
    would dead-letter.

    The run id is the record key (it picks the partition, so all of a run's events stay in
    order) and the idempotency key is how the service drops a re-submission: a blank one of
    either would silently break those guarantees, so it is refused here rather than on the wire.
    """
    if not request.run_id.strip():
        raise ClientUsageError("GenerateRequest.run_id must be non-empty")
    if not request.idempotency_key.strip():
        raise ClientUsageError("GenerateRequest.idempotency_key must be non-empty")
    _as_the_worker_reads_it(request, decode_request)


def check_resume(resume: ResumeRequested) -> None:
    """Raise ClientUsageError for a resume the service would dead-letter."""
    _as_the_worker_reads_it(resume, decode_resume)


def _as_the_worker_reads_it(event: E, decode: Callable[[bytes], E]) -> None:
    """Events built in Python skip msgspec's constraints (patterns, lengths, ranges, nesting):
    those apply when bytes are decoded. Decoding the bytes that would be sent, with the worker's
    own decoder, refuses here exactly what the worker would dead-letter."""
    try:
        data = encode(event)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ClientUsageError(f"{type(event).__name__} is not JSON-serialisable: {exc}") from exc
    try:
        decode(data)
    except EventDecodeError as exc:
        raise ClientUsageError(
            f"the worker would refuse this {type(event).__name__} ({exc.reason}): {exc.detail}",
            reason=exc.reason,
        ) from None
