"""Every seed-page example runs offline and does what the seed says it does."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

import pytest
from intermission import GenerateResponse, Message, ToolRequestPart

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

Loader: TypeAlias = Callable[[str], Any]  # example modules are loaded by path, so their types are Any


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Loader:
    """Import an example by path, with the scripted model forced (no key, no network)."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the examples import their helper as `_model`

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up here
        spec.loader.exec_module(module)
        return module

    return load


def resolved(messages: list[Message]) -> list[ToolRequestPart]:
    """Tool requests that paused and were later answered: proof that the run really paused."""
    return [
        part
        for message in messages
        if message.role == "model"
        for part in message.tool_requests
        if "resolvedInterrupt" in (part.metadata or {})
    ]


def user_messages(messages: list[Message]) -> int:
    return sum(message.role == "user" for message in messages)


async def test_generate_pauses_then_uses_the_answer(load: Loader) -> None:
    response: GenerateResponse = await load("ask_question_generate").main()

    assert response.finish_reason == "stop"
    assert response.interrupts == []
    assert response.text == "You chose Casablanca. Correct!"
    [asked] = resolved(response.messages)
    assert asked.tool_request.name == "askQuestion"
    assert asked.tool_request.input["choices"][0] == "Casablanca"


async def test_define_prompt_resumes_without_a_second_user_message(load: Loader) -> None:
    response: GenerateResponse = await load("ask_question_prompt").main()

    assert response.text == "You chose ENIAC. Correct!"
    assert "computer history" in response.messages[0].text
    assert user_messages(response.messages) == 1
    assert len(resolved(response.messages)) == 1


async def test_prompt_file_renders_system_and_input_and_resumes(load: Loader) -> None:
    response: GenerateResponse = await load("ask_question_prompt_file").main()

    assert response.text.startswith("Plan for a garden birthday party next week")
    assert [m.role for m in response.messages[:2]] == ["system", "user"]
    # As rendered, newlines and all, as Genkit JS's dotprompt renders the same file.
    assert response.messages[0].text == "\nUse the askQuestion tool if you need to clarify something.\n\n"
    assert response.messages[1].text == "\nHelp me plan a birthday party next week."
    assert user_messages(response.messages) == 1
    assert len(resolved(response.messages)) == 1


def test_prompt_file_is_the_seed_file_verbatim() -> None:
    text = (EXAMPLES / "prompts" / "partyPlanner.prompt").read_text(encoding="utf-8")
    assert text.startswith("---\ntools: [askQuestion]\ninput:\n  schema:\n    partyType: string\n---\n")
    assert text.endswith('{{role "user"}}\nHelp me plan a {{partyType}} party next week.\n')


async def test_chat_pauses_and_resumes_with_send(load: Loader) -> None:
    response: GenerateResponse = await load("ask_question_chat").main()

    assert response.text.startswith("Birthday plan for 10 to 20 guests")
    assert response.messages[0].role == "system"
    assert user_messages(response.messages) == 1
    assert len(resolved(response.messages)) == 1


async def test_answer_loop_answers_two_at_once_then_one_more(load: Loader) -> None:
    planned = await load("answer_loop").main()

    assert planned.rounds == [["8 guests", "burgers"], ["Saturday"]]
    assert planned.response.text == "Backyard BBQ plan: 8 guests, burgers on the grill, Saturday at 4pm."
    assert planned.response.interrupts == []
    assert len(resolved(planned.response.messages)) == 3


async def test_transfer_approved_runs_exactly_once(load: Loader) -> None:
    example = load("transfer_money")
    done = await example.main(approve=True)

    assert done.asked == [{"message": "Please confirm sending an amount > $100."}]
    assert [(t.toAccountId, t.amount) for t in done.transfers] == [("ABC123", 100000)]
    assert done.response.text == "Transfer COMPLETED: Sent $1000.00 to ABC123."
    [restarted] = resolved(done.response.messages)
    # As in Genkit, the approval shows in the tool's output, not on the model's request.
    assert restarted.metadata == {
        "resolvedInterrupt": {"message": "Please confirm sending an amount > $100."}
    }


async def test_transfer_rejected_never_runs(load: Loader) -> None:
    example = load("transfer_money")
    done = await example.main(approve=False)

    assert done.asked == [{"message": "Please confirm sending an amount > $100."}]
    assert done.transfers == []
    assert example.LEDGER == []
    assert done.response.text == "Transfer REJECTED: The user rejected the transaction."


def test_answer_loop_runs_as_a_script() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
    finished = subprocess.run(
        [sys.executable, "examples/answer_loop.py"],
        cwd=EXAMPLES.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert "user answers: 8 guests" in finished.stdout
    assert "user answers: Saturday" in finished.stdout
    assert finished.stdout.rstrip().endswith(
        "model: Backyard BBQ plan: 8 guests, burgers on the grill, Saturday at 4pm."
    )
