"""A forged answer under the expiry policy's resume id ("expiry"): before, the worker took it,
counted its answers as the policy's defaults (outcome ``expired_default``) and, once the pause
was claimed under that id, treated it as a redelivery of the policy's claim. It is refused."""

from __future__ import annotations

from answer_kit import paused, rejection, send, terminal
from intermission.service.demo import app as demo
from intermission.testing import ServiceHarness
from intermission_producer import build_resume
from intermission_schemas import RunCompleted


async def test_an_answer_under_the_expiry_policys_resume_id_is_refused() -> None:
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "reserved")
        approve = {raised.interrupts[0].ref: {"status": "APPROVED"}}
        forged = build_resume(raised, restart=approve, answered_by="mallory", resume_id="expiry")
        await send(service, forged)
        assert (await rejection(service, "expiry")).reason == "malformed"
        assert terminal(service, "reserved") == []
        await send(service, build_resume(raised, restart=approve, answered_by="bob"))
        assert isinstance(await service.result("reserved"), RunCompleted)
