"""Checks on a GenerateRequest before it is published."""

from __future__ import annotations

from intermission_schemas import GenerateRequest

from ._errors import ClientUsageError

__all__ = ["check_request"]


def check_request(request: GenerateRequest) -> None:
    """Raise ClientUsageError for a request the service could not de-duplicate or route.

    The run id is the record key (it picks the partition, so all of a run's events stay in
    order) and the idempotency key is how the service drops a re-submission: a blank one of
    either would silently break those guarantees, so it is refused here rather than on the wire.
    """
    if not request.run_id.strip():
        raise ClientUsageError("GenerateRequest.run_id must be non-empty")
    if not request.idempotency_key.strip():
        raise ClientUsageError("GenerateRequest.idempotency_key must be non-empty")
