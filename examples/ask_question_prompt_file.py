"""Seed: "Use interrupts / Prompt file": prompts/partyPlanner.prompt names askQuestion as a tool.

The .prompt file refers to the tool by name, so askQuestion must be defined on the same
Intermission instance before the prompt runs. Run: ``uv run python examples/ask_question_prompt_file.py``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from intermission import GenerateResponse, Intermission, Message, ModelRequest, Resume, reply, tool_call
from pydantic import BaseModel, Field

from _model import example_model, tool_outputs


class Question(BaseModel):
    choices: list[str] = Field(description="the choices to display to the user")
    allowOther: bool | None = Field(default=None, description="when true, allow write-ins")


def party_model(request: ModelRequest) -> Message | str:
    """Stands in for the LLM: clarifies the theme, then plans with the theme it was told."""
    user = next(m.text for m in request.messages if m.role == "user")
    asked = re.search(r"plan a (\w+) party", user)  # "Help me plan a birthday party next week."
    party = asked.group(1) if asked else "party"
    answers = tool_outputs(request)
    if answers:
        return f"Plan for a {answers[0]} {party} party next week: invitations Monday, decorations Friday."
    return reply(
        f"Which theme should the {party} party have?",
        tool_call("askQuestion", {"choices": ["garden", "pirates", "80s disco"], "allowOther": True}),
    )


ai = Intermission(model=example_model(party_model), prompt_dir=Path(__file__).parent / "prompts")

askQuestion = ai.define_interrupt(
    name="askQuestion",
    description="use this to ask the user a clarifying question",
    input_schema=Question,
    output_schema=str,
)


async def main() -> GenerateResponse:
    # assuming prompt file is named partyPlanner.prompt
    partyPlanner = ai.prompt("partyPlanner")

    response = await partyPlanner({"partyType": "birthday"})

    if response.interrupts:
        print(f"model asks: {response.text}")
        answers = []
        for question in response.interrupts:
            choice = question.tool_request.input["choices"][0]  # the user picks the first choice
            print(f"  choices: {question.tool_request.input['choices']} -> user answers: {choice}")
            answers.append(askQuestion.respond(question, choice))
        response = await partyPlanner(messages=response.messages, resume=Resume(respond=answers))

    print(f"model: {response.text}")
    print(f"user messages in the history: {sum(m.role == 'user' for m in response.messages)}")
    return response


if __name__ == "__main__":
    asyncio.run(main())
