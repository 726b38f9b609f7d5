"""Helpers for the answer tests on a ServiceHarness: a paused transfer, sending an answer, and
waiting for its rejection."""

from __future__ import annotations

import asyncio

from intermission.testing import ServiceHarness
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    Message,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    TextPart,
    decode_result,
    encode,
)


async def paused(service: ServiceHarness, run_id: str, **fields: object) -> InterruptRaised:
    await service.client.submit(
        GenerateRequest(
            run_id=run_id,
            idempotency_key=run_id,
            messages=[Message(role="user", content=[TextPart(text="Transfer $1000")])],
            tools=["transferMoney"],
            **fields,  # type: ignore[arg-type]
        )
    )
    return await service.interrupt(run_id)


async def send(service: ServiceHarness, event: ResumeRequested) -> None:
    await service.log.publish(service.settings.topics.resumes, event.run_id, encode(event))


async def rejection(service: ServiceHarness, resume_id: str) -> ResumeRejected:
    for _ in range(250):
        for record in service.log.topics[service.settings.topics.results]:
            event = decode_result(record.value)
            if isinstance(event, ResumeRejected) and event.resume_id == resume_id:
                return event
        await asyncio.sleep(0.02)
    raise AssertionError(f"no ResumeRejected for {resume_id}")


def terminal(service: ServiceHarness, run_id: str) -> list[RunCompleted | RunFailed]:
    """Every RunCompleted and RunFailed of ``run_id`` published so far."""
    events = [decode_result(r.value) for r in service.log.topics[service.settings.topics.results]]
    return [e for e in events if isinstance(e, RunCompleted | RunFailed) and e.run_id == run_id]


def ed25519_pair() -> tuple[bytes, str]:
    """An approver's key: the private seed, and the public key in hex (for the settings)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return seed, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
