"""Seed: "Respond to interrupts": answer every interrupt, resume, and repeat until the model is done.

The scripted model asks two questions in one turn, then one more in a later turn, so the loop
runs twice and answers three interrupts. Run: ``uv run python examples/answer_loop.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from intermission import GenerateResponse, Intermission, Message, ModelRequest, Resume, reply, tool_call
from pydantic import BaseModel, Field

from _model import all_tool_outputs, example_model


class Question(BaseModel):
    choices: list[str] = Field(description="the choices to display to the user")
    allowOther: bool | None = Field(default=None, description="when true, allow write-ins")


def bbq_model(request: ModelRequest) -> Message | str:
    """Stands in for the LLM: two questions at once, a follow-up, then a plan from all three answers."""
    answers = all_tool_outputs(request)
    if not answers:
        return reply(
            "A couple of questions first.",
            tool_call("askQuestion", {"choices": ["8 guests", "20 guests"]}),
            tool_call("askQuestion", {"choices": ["burgers", "ribs", "veggie skewers"], "allowOther": True}),
        )
    if len(answers) == 2:
        return reply("One more: when?", tool_call("askQuestion", {"choices": ["Saturday", "Sunday"]}))
    guests, food, day = answers
    return f"Backyard BBQ plan: {guests}, {food} on the grill, {day} at 4pm."


ai = Intermission(model=example_model(bbq_model))

askQuestion = ai.define_interrupt(
    name="askQuestion",
    description="use this to ask the user a clarifying question",
    input_schema=Question,
    output_schema=str,
)


async def askUser(question: dict[str, Any]) -> str:
    """Stands in for a real UI: shows the choices and picks the first one."""
    choice: str = question["choices"][0]
    print(f"  choices: {question['choices']} -> user answers: {choice}")
    return choice


@dataclass
class Planned:
    response: GenerateResponse
    rounds: list[list[str]]  # the answers given on each resume


async def main() -> Planned:
    rounds: list[list[str]] = []
    response = await ai.generate(
        tools=[askQuestion],
        system="ask clarifying questions until you have a complete solution",
        prompt="help me plan a backyard BBQ",
    )

    while response.interrupts:
        print(f"model asks: {response.text}")
        answers = []
        # multiple interrupts can be called at once, so we handle them all
        for question in response.interrupts:
            answers.append(
                # use the respond method on our tool to populate answers
                askQuestion.respond(
                    question,
                    # send the tool request input to the user to respond
                    await askUser(question.tool_request.input),
                )
            )
        rounds.append([answer.tool_response.output for answer in answers])

        response = await ai.generate(
            tools=[askQuestion],
            messages=response.messages,
            resume=Resume(respond=answers),
        )

    # no more interrupts, we can see the final response
    print(f"model: {response.text}")
    return Planned(response=response, rounds=rounds)


if __name__ == "__main__":
    asyncio.run(main())
