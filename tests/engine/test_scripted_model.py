"""The shipped scripted model keeps a bounded window of requests, so a worker's memory is flat."""

from __future__ import annotations

from intermission import ModelRequest, ScriptedModel, reply
from intermission_schemas import Message, TextPart


async def test_the_scripted_model_keeps_only_its_latest_requests() -> None:
    model = ScriptedModel(lambda request: reply(request.messages[-1].text), keep=8)
    for n in range(1000):
        request = ModelRequest(messages=[Message(role="user", content=[TextPart(f"hello {n}")])])
        await model.generate(request)
    assert len(model.requests) == 8
    assert [r.messages[0].text for r in model.requests] == [f"hello {n}" for n in range(992, 1000)]
