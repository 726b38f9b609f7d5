"""Prompts (in code and from .prompt files) and chats, paused by interrupts and resumed.

Includes the check for Genkit issue #4652: resuming through a prompt must not append the rendered
user message a second time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from intermission import (
    Chat,
    Intermission,
    Resume,
    ResumeError,
    SchemaError,
    ScriptedModel,
    Tool,
    UnknownToolError,
    UsageError,
    reply,
    tool_call,
)
from intermission_schemas import ChatState, Marker, Message, TextPart, ToolResponsePart, decode_chat_state
from pydantic import BaseModel

PARTY_PLANNER = """\
---
tools: [askQuestion]
input:
  schema:
    partyType: string
---
{{role "system"}}
Use the askQuestion tool if you need to clarify something.

{{role "user"}}
Help me plan a {{partyType}} party next week.
"""

# As rendered, newlines and all: Genkit JS's dotprompt renders this file to the same text.
SYSTEM = "\nUse the askQuestion tool if you need to clarify something.\n\n"
USER = "\nHelp me plan a birthday party next week."


class Question(BaseModel):
    choices: list[str]
    allowOther: bool | None = None


class Subject(BaseModel):
    subject: str


def define_ask(ai: Intermission) -> Tool:
    return ai.define_interrupt(
        name="askQuestion",
        description="use this to ask the user a clarifying question",
        input_schema=Question,
        output_schema=str,
    )


def ask_call(*choices: str) -> Message:
    return reply(tool_call("askQuestion", {"choices": list(choices)}))


def texts(messages: list[Message], role: str) -> list[str]:
    return [m.text for m in messages if m.role == role]


@pytest.fixture
def prompt_dir(tmp_path: Path) -> Path:
    (tmp_path / "partyPlanner.prompt").write_text(PARTY_PLANNER, encoding="utf-8")
    nested = tmp_path / "nested"
    nested.mkdir()
    (nested / "hello.prompt").write_text("Say hello to {{name}}.", encoding="utf-8")
    return tmp_path


# -- prompts defined in code -----------------------------------------------------------------


async def test_define_prompt_renders_the_input() -> None:
    model = ScriptedModel([ask_call("ENIAC", "UNIVAC"), "Right."])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    trivia = ai.define_prompt(
        name="triviaPrompt",
        tools=[ask],
        input_schema=Subject,
        prompt="Ask me a trivia question about {{subject}}.",
    )
    assert ai.prompt("triviaPrompt") is trivia

    response = await trivia({"subject": "computer history"})

    assert response.finish_reason == "interrupted"
    sent = model.requests[0]
    assert sent.messages == [
        Message(role="user", content=[TextPart("Ask me a trivia question about computer history.")])
    ]
    assert sent.tools == [ask.definition]

    final = await trivia(
        messages=response.messages,
        resume=Resume(respond=[ask.respond(response.interrupts[0], "ENIAC")]),
    )
    assert final.text == "Right."
    assert texts(final.messages, "user") == ["Ask me a trivia question about computer history."]
    assert texts(model.requests[1].messages, "user") == texts(final.messages, "user")


async def test_define_prompt_with_system_and_a_pydantic_input_checks_the_input() -> None:
    model = ScriptedModel(["Babbage."])
    ai = Intermission(model=model)
    trivia = ai.define_prompt(
        name="triviaPrompt",
        system="You are a quiz master.",
        input_schema=Subject,
        prompt="Ask me about {{subject}}.",
    )
    with pytest.raises(SchemaError) as caught:
        await trivia({"topic": "computers"})
    assert caught.value.field == "subject"
    assert "triviaPrompt" in str(caught.value)
    assert model.requests == []

    response = await trivia(Subject(subject="engines"))
    assert [(m.role, m.text) for m in model.requests[0].messages] == [
        ("system", "You are a quiz master."),
        ("user", "Ask me about engines."),
    ]
    assert response.text == "Babbage."


async def test_unknown_prompt() -> None:
    ai = Intermission(model=ScriptedModel([]))
    with pytest.raises(UnknownToolError) as caught:
        ai.prompt("nope")
    assert caught.value.kind == "prompt"


# -- .prompt files ------------------------------------------------------------------------------


async def test_prompt_file_renders_system_and_user_and_takes_tools_from_front_matter(
    prompt_dir: Path,
) -> None:
    model = ScriptedModel([ask_call("backyard", "restaurant"), "Here is your plan."])
    ai = Intermission(model=model, prompt_dir=prompt_dir)
    ask = define_ask(ai)  # defined after loading: front matter names are resolved when called
    planner = ai.prompt("partyPlanner")

    response = await planner({"partyType": "birthday"})

    assert response.finish_reason == "interrupted"
    sent = model.requests[0]
    assert [(m.role, m.text) for m in sent.messages] == [
        ("system", SYSTEM),
        ("user", USER),
    ]
    assert sent.tools == [ask.definition]
    assert [i.tool_request.name for i in response.interrupts] == ["askQuestion"]


async def test_prompt_files_in_subdirectories_are_named_by_path(prompt_dir: Path) -> None:
    model = ScriptedModel(["Hello, Ada."])
    ai = Intermission(model=model, prompt_dir=prompt_dir)
    response = await ai.prompt("nested/hello")({"name": "Ada"})
    assert texts(model.requests[0].messages, "user") == ["Say hello to Ada."]
    assert response.text == "Hello, Ada."


async def test_resume_through_a_prompt_does_not_repeat_the_user_message(prompt_dir: Path) -> None:
    """Genkit issue #4652: the resume re-rendered the prompt and appended the user turn again."""
    model = ScriptedModel([ask_call("backyard", "park"), ask_call("10", "30"), "A 30-guest park party."])
    ai = Intermission(model=model, prompt_dir=prompt_dir)
    ask = define_ask(ai)
    planner = ai.prompt("partyPlanner")
    answers = iter(["park", "30"])

    response = await planner({"partyType": "birthday"})
    rounds = 0
    while response.interrupts:
        rounds += 1
        replies = [ask.respond(i, next(answers)) for i in response.interrupts]
        response = await planner(messages=response.messages, resume=Resume(respond=replies))

    assert rounds == 2
    assert response.text == "A 30-guest park party."
    user = [USER]
    assert texts(response.messages, "user") == user
    assert texts(response.messages, "system") == [SYSTEM]
    for request in model.requests:
        assert texts(request.messages, "user") == user
        assert texts(request.messages, "system") == [SYSTEM]
    assert [m.role for m in model.requests[-1].messages] == [
        "system",
        "user",
        "model",
        "tool",
        "model",
        "tool",
    ]


async def test_resuming_a_prompt_needs_the_messages(prompt_dir: Path) -> None:
    ai = Intermission(model=ScriptedModel([]), prompt_dir=prompt_dir)
    define_ask(ai)
    with pytest.raises(UsageError, match="messages"):
        await ai.prompt("partyPlanner")(resume=Resume())


async def test_prompt_file_input_is_checked_against_its_picoschema(prompt_dir: Path) -> None:
    model = ScriptedModel([])
    ai = Intermission(model=model, prompt_dir=prompt_dir)
    define_ask(ai)
    planner = ai.prompt("partyPlanner")

    with pytest.raises(SchemaError) as wrong_type:
        await planner({"partyType": 5})
    assert wrong_type.value.field == "partyType"
    assert "partyType" in str(wrong_type.value)

    with pytest.raises(SchemaError) as missing:
        await planner({})
    assert missing.value.field == "partyType"
    assert "partyType" in str(missing.value)

    with pytest.raises(SchemaError):
        await planner({"partyType": "birthday", "guests": 30})  # picoschema forbids extra keys
    assert model.requests == []


async def test_prompt_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="prompt_dir"):
        Intermission(prompt_dir=tmp_path / "missing")


# -- chat ---------------------------------------------------------------------------------------


async def test_chat_pauses_moves_to_a_fresh_instance_as_bytes_and_resumes() -> None:
    model = ScriptedModel([ask_call("10", "30")])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    chat = ai.chat(system=SYSTEM, tools=[ask])

    response = await chat.send("make a plan for my birthday party")

    assert response.finish_reason == "interrupted"
    assert chat.interrupts == response.interrupts
    assert [(m.role, m.text) for m in model.requests[0].messages] == [
        ("system", SYSTEM),
        ("user", "make a plan for my birthday party"),
    ]
    state = chat.to_bytes()
    assert decode_chat_state(state) == chat.state

    model2 = ScriptedModel(["A plan for 30 guests.", "You're welcome."])
    ai2 = Intermission(model=model2)
    ask2 = define_ask(ai2)
    restored = ai2.chat(state=state)
    assert isinstance(restored, Chat)
    assert restored.messages == chat.messages
    assert restored.interrupts == chat.interrupts

    done = await restored.send(resume=Resume(respond=[ask2.respond(restored.interrupts[0], "30")]))

    assert done.finish_reason == "stop"
    assert done.text == "A plan for 30 guests."
    assert restored.interrupts == []
    assert restored.messages == done.messages
    assert [m.role for m in model2.requests[0].messages] == ["system", "user", "model", "tool"]
    tool_message = model2.requests[0].messages[-1]
    assert isinstance(tool_message.content[0], ToolResponsePart)
    assert tool_message.content[0].tool_response.output == "30"
    assert tool_message.content[0].metadata == {Marker.INTERRUPT_RESPONSE: True}
    assert model2.requests[0].tools == [ask2.definition]

    # The conversation goes on; the system message is not repeated.
    more = await restored.send("thanks")
    assert more.text == "You're welcome."
    assert texts(restored.messages, "system") == [SYSTEM]
    assert texts(restored.messages, "user") == ["make a plan for my birthday party", "thanks"]


async def test_chat_send_while_paused_is_a_usage_error() -> None:
    model = ScriptedModel([ask_call("a", "b")])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    chat = ai.chat(tools=[ask])
    await chat.send("plan it")
    before = list(chat.messages)

    with pytest.raises(UsageError, match="paused"):
        await chat.send("never mind that, something else")
    with pytest.raises(UsageError):
        await chat.send("both", resume=Resume(respond=[ask.respond(chat.interrupts[0], "a")]))
    with pytest.raises(UsageError):
        await chat.send()
    assert chat.messages == before
    assert len(model.requests) == 1


async def test_chat_state_whose_interrupts_disagree_with_its_messages_is_rejected() -> None:
    model = ScriptedModel([ask_call("a", "b")])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    chat = ai.chat(tools=[ask])
    await chat.send("plan it")

    emptied = msgspec.structs.replace(chat.state, interrupts=[])
    with pytest.raises(ResumeError) as caught:
        ai.chat(state=emptied)
    assert caught.value.code == "not_interrupted"

    claimed = ChatState(messages=chat.messages[:1], tools=["askQuestion"], interrupts=chat.interrupts)
    with pytest.raises(ResumeError):
        ai.chat(state=msgspec.json.encode(claimed))


async def test_chat_state_naming_an_unknown_tool_is_rejected() -> None:
    ai = Intermission(model=ScriptedModel([]))
    state = ChatState(messages=[Message(role="user", content=[TextPart("hi")])], tools=["askQuestion"])
    with pytest.raises(UnknownToolError):
        ai.chat(state=state)


async def test_chat_send_stream_updates_the_chat() -> None:
    model = ScriptedModel(["Hi there."])
    ai = Intermission(model=model)
    chat = ai.chat(system="be brief")
    stream = chat.send_stream("hello")
    chunks: list[Any] = [c.text async for c in stream]
    response = await stream.response
    assert chunks == ["Hi there."]
    assert chat.messages == response.messages
    assert [m.role for m in chat.messages] == ["system", "user", "model"]
