"""The service answers parallel interrupts one at a time; Genkit JS takes them all in one resume.
The run's final history is the one Genkit JS wrote (fixtures/js/parallel.json), whichever order
the answers come in. In-process: the production worker on a MemoryLog and a local store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from intermission.service.runs.sealing import Sealer
from intermission.service.runs.snapshots import Snapshots
from intermission.testing import ServiceHarness
from intermission_schemas import (
    GenerateRequest,
    Message,
    RespondAnswer,
    ResumeRequested,
    RunCompleted,
    TextPart,
    encode,
)
from test_genkit_compat import engine

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "js" / "parallel.json").read_text(encoding="utf-8")
)


def answer(run_id: str, ref: str, given: dict[str, Any]) -> ResumeRequested:
    respond = given["respond"]
    return ResumeRequested(
        run_id=run_id,
        resume_id=f"{run_id}-{ref}",
        snapshot_version=1,
        respond=[RespondAnswer(ref=ref, output=respond["output"], metadata=respond.get("metadata"))],
        answered_by="alice",
    )


@pytest.mark.parametrize("order", [["ask-1", "ask-2"], ["ask-2", "ask-1"]], ids=["in-order", "reversed"])
async def test_two_questions_answered_one_at_a_time_end_in_genkits_history(order: list[str]) -> None:
    case = FIXTURE["resumes"]["respond"]
    ai, tools = engine()
    run_id = f"parallel-{order[0]}"
    async with ServiceHarness(ai) as service:
        await service.client.submit(
            GenerateRequest(
                run_id=run_id,
                idempotency_key=run_id,
                messages=[Message(role="user", content=[TextPart(text=FIXTURE["prompt"])])],
                tools=list(tools),
            )
        )
        raised = await service.interrupt(run_id)
        assert [p.ref for p in raised.interrupts] == ["ask-1", "ask-2"]
        first, second = order
        await service.log.publish(
            service.settings.topics.resumes, run_id, encode(answer(run_id, first, case["answers"][first]))
        )
        partly = await service.interrupt(run_id)  # announced again: one answered, one open
        assert partly.answered == [first]
        await service.log.publish(
            service.settings.topics.resumes, run_id, encode(answer(run_id, second, case["answers"][second]))
        )
        ended = await service.result(run_id)
        assert isinstance(ended, RunCompleted), ended
        sealer = Sealer(None, compression=service.settings.snapshot_compression)
        result = await Snapshots(service.store, sealer).load_result(run_id)
    assert result is not None
    assert json.loads(encode(result.messages)) == case["messages"]
