"""Seed: "Use interrupts / Chat": a chat pauses on askQuestion and resumes with chat.send(resume=...).

Run: ``uv run python examples/ask_question_chat.py``.
"""

from __future__ import annotations

import asyncio

from intermission import GenerateResponse, Intermission, Message, ModelRequest, Resume, reply, tool_call
from pydantic import BaseModel, Field

from _model import example_model, tool_outputs


class Question(BaseModel):
    choices: list[str] = Field(description="the choices to display to the user")
    allowOther: bool | None = Field(default=None, description="when true, allow write-ins")


def birthday_model(request: ModelRequest) -> Message | str:
    """Stands in for the LLM: asks for the guest count, then plans for the count it was given."""
    answers = tool_outputs(request)
    if answers:
        return f"Birthday plan for {answers[0]} guests: book the venue, order a cake, send invitations."
    return reply(
        "How many guests are you expecting?",
        tool_call("askQuestion", {"choices": ["under 10", "10 to 20", "more than 20"]}),
    )


ai = Intermission(model=example_model(birthday_model))

askQuestion = ai.define_interrupt(
    name="askQuestion",
    description="use this to ask the user a clarifying question",
    input_schema=Question,
    output_schema=str,
)


async def main() -> GenerateResponse:
    chat = ai.chat(
        system="Use the askQuestion tool if you need to clarify something.",
        tools=[askQuestion],
    )

    response = await chat.send("make a plan for my birthday party")

    # the chat returns as soon as the model calls an interrupt; chat.interrupts says what it waits on
    if chat.interrupts:
        print(f"model asks: {response.text}")
        answers = []
        for question in chat.interrupts:
            choice = question.tool_request.input["choices"][1]  # the user picks the second choice
            print(f"  choices: {question.tool_request.input['choices']} -> user answers: {choice}")
            answers.append(askQuestion.respond(question, choice))
        response = await chat.send(resume=Resume(respond=answers))

    print(f"model: {response.text}")
    print(f"user messages in the chat: {sum(m.role == 'user' for m in chat.messages)}")
    return response


if __name__ == "__main__":
    asyncio.run(main())
