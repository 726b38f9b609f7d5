"""Writes ``seal2_store/``: a store written by the release before snapshots stored their history
once (commit 1123c63, seal ``intermission-seal/2``, the history in ``request.messages`` and
again in ``paused.messages``).

Run once, at that commit, and committed with its output. Never run it again: the store stands
for objects already sitting in buckets, which every later release must keep reading
(``tests/service/test_stored_formats.py``). Usage, from the repository root at that commit:
``uv run python tests/service/data/write_seal2_store.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import GenerateRequest, Message, TextPart, encode

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from service_app import build  # noqa: E402

SEAL_KEY = "seal2-fixture-key"
HISTORY = [
    Message(role="user", content=[TextPart("transfer")]),
    Message(role="model", content=[TextPart("Which account should receive it?")]),
    Message(role="user", content=[TextPart("ABC123, the usual one.")]),
]


def request(run_id: str) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        system="You move money only when asked.",
        messages=HISTORY,
        tools=["transferMoney"],
        tags={"fixture": "seal2"},
    )


async def main() -> None:
    target = HERE / "seal2_store"
    shutil.rmtree(target, ignore_errors=True)
    ai, _ = build()
    settings = Settings(seal_key=SEAL_KEY)
    async with ServiceHarness(ai, settings=settings, directory=target) as service:
        # A run that paused, was approved and finished: snapshot 1 (resolved), journal, result.
        await service.client.submit(request("seal2-done"))
        raised = await service.interrupt("seal2-done")
        ref = raised.interrupts[0].ref
        await service.client.restart(raised, {ref: {"status": "APPROVED"}}, answered_by="alice")
        await service.result("seal2-done")
        # A run left paused: snapshot 1 (pending), and the InterruptRaised its approver holds.
        await service.client.submit(request("seal2-pending"))
        pending = await service.interrupt("seal2-pending")
        (target / "seal2-pending.interrupt.json").write_bytes(encode(pending))
    shutil.rmtree(target / "tmp", ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
