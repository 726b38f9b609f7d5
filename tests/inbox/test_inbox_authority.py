"""The inbox speaks for the caller it authenticated, and only for them: it records who asked
for a run (so the worker refuses that person's own approval), carries the caller's groups in the
answers it signs (so a bound inbox key can vouch for them), and shows a call's resume token only
to a caller the worker would take an answer from."""

from __future__ import annotations

from dataclasses import dataclass

from inbox_kit import TRANSFER, inbox_client, paused
from intermission.inbox.identity import Identity, Refusal
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_producer import AnswerKey
from pydantic import SecretStr
from starlette.requests import HTTPConnection

APPROVE = {"status": "APPROVED"}
USER = "x-test-user"


@dataclass(frozen=True)
class _Directory:
    """An authenticator as an OIDC proxy would be: names and groups from a trusted source."""

    groups: dict[str, tuple[str, ...]]

    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal:
        name = request.headers.get(USER)
        if name is None:
            return Refusal(401, "no_identity", "nobody", absent=True)
        return Identity(name=name, groups=self.groups.get(name, ()), method="bearer")


def _settings() -> Settings:
    return Settings(
        resume_token_secret=SecretStr("token-secret"),
        answer_keys=SecretStr("inbox=inbox-secret"),
        answer_key_bindings="inbox:@finance,bob",
        require_signed_answers=True,
    )


INBOX_KEY = AnswerKey("inbox", b"inbox-secret")
DIRECTORY = _Directory({"carol": ("finance",), "alice": ("finance",), "bob": ()})


async def _answer(client: object, run: dict[str, object], who: str) -> dict[str, object]:
    ref = run["pending"]["interrupts"][0]["ref"]  # type: ignore[index]
    reply = await client.post(  # type: ignore[attr-defined]
        f"/api/runs/{run['runId']}/answers?wait=10",
        json={"restart": {ref: APPROVE}},
        headers={USER: who},
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


async def test_the_requester_the_inbox_authenticated_cannot_approve_her_own_run() -> None:
    async with (
        ServiceHarness(demo.ai, settings=_settings()) as service,
        inbox_client(
            service, authenticator=DIRECTORY, signing_key=AnswerKey("inbox", b"inbox-secret")
        ) as client,
    ):
        client.headers[USER] = "alice"
        run = await paused(client, "own-run", {**TRANSFER, "approvers": ["@finance"]})
        assert (await _answer(client, run, "alice"))["reason"] == "self_approval"
        assert (await _answer(client, run, "carol"))["outcome"] == "accepted"  # via her group


async def test_a_request_cannot_name_someone_else_as_its_requester() -> None:
    async with (
        ServiceHarness(demo.ai, settings=_settings()) as service,
        inbox_client(service, authenticator=DIRECTORY) as client,
    ):
        reply = await client.post(
            "/api/runs", json={**TRANSFER, "requestedBy": "bob"}, headers={USER: "alice"}
        )
        assert reply.status_code == 422, reply.text
        assert not service.log.topics.get(service.settings.topics.requests)


async def test_a_calls_token_is_shown_only_to_whom_its_rule_admits() -> None:
    async with (
        ServiceHarness(demo.ai, settings=_settings()) as service,
        inbox_client(
            service, authenticator=DIRECTORY, signing_key=AnswerKey("inbox", b"inbox-secret")
        ) as client,
    ):
        client.headers[USER] = "bob"
        body = {**TRANSFER, "approvalRules": [{"tool": "transferMoney", "approvers": ["@finance"]}]}
        await paused(client, "ruled", body)

        def tokens(who: str) -> object:
            return client.get("/api/runs/ruled", headers={USER: who})

        as_bob = (await tokens("bob")).json()["pending"]["interrupts"][0]
        as_carol = (await tokens("carol")).json()["pending"]["interrupts"][0]
        assert "token" not in as_bob  # bob asked for the run, and is not in finance
        assert as_carol.get("token")


async def test_a_card_offers_buttons_only_to_those_the_worker_would_take_an_answer_from() -> None:
    # Buttons whose answer the worker must refuse are a trap: the page says why instead, and
    # whom the call waits for; "mine" finds the run for a named approver.
    async with (
        ServiceHarness(demo.ai, settings=_settings()) as service,
        inbox_client(service, authenticator=DIRECTORY) as client,
    ):
        client.headers[USER] = "alice"
        run = await paused(client, "cards", {**TRANSFER, "approvers": ["@finance", "dave"]})
        card = f"/runs/{run['runId']}/card"

        asker = (await client.get(card, headers={USER: "alice"})).text
        assert "You asked for this run, so someone else must answer it." in asker
        assert "Waiting for: @finance, dave." in asker
        assert 'data-action="approve"' not in asker
        assert 'data-action="respond"' not in asker

        outsider = (await client.get(card, headers={USER: "bob"})).text
        assert "You are not among the approvers of this call." in outsider
        assert 'data-action="approve"' not in outsider

        for approver in ("carol", "dave"):  # by group, by name
            page = (await client.get(card, headers={USER: approver})).text
            assert 'data-action="approve"' in page
            assert "not-yours" not in page
        assert "&quot;dave&quot;" in page  # data-people: the "mine" filter finds it for dave
