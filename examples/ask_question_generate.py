"""Seed: "Define manual-response interrupts" + "Use interrupts / generate" + "Respond to interrupts".

The model asks a multiple-choice question through the askQuestion interrupt; generation pauses,
we answer as the user would, and resume. Run: ``uv run python examples/ask_question_generate.py``.
"""

from __future__ import annotations

import asyncio

from intermission import GenerateResponse, Intermission, Message, ModelRequest, Resume, reply, tool_call
from pydantic import BaseModel, Field

from _model import example_model, tool_outputs


class Question(BaseModel):
    choices: list[str] = Field(description="the choices to display to the user")
    allowOther: bool | None = Field(default=None, description="when true, allow write-ins")


def trivia_model(request: ModelRequest) -> Message | str:
    """Stands in for the LLM: asks through askQuestion, then grades the answer it gets back."""
    answers = tool_outputs(request)
    if answers:
        correct = "Casablanca"
        return f"You chose {answers[0]}. " + ("Correct!" if answers[0] == correct else f"It was {correct}.")
    return reply(
        'Which film features the line "Here\'s looking at you, kid"?',
        tool_call("askQuestion", {"choices": ["Casablanca", "Citizen Kane", "Vertigo"]}),
    )


ai = Intermission(model=example_model(trivia_model))

askQuestion = ai.define_interrupt(
    name="askQuestion",
    description="use this to ask the user a clarifying question",
    input_schema=Question,
    output_schema=str,
)


async def main() -> GenerateResponse:
    response = await ai.generate(
        prompt="Ask me a movie trivia question.",
        tools=[askQuestion],
    )

    # you can check the finish_reason of the response, or whether any interrupts are on it
    if response.finish_reason == "interrupted" and len(response.interrupts) > 0:
        print(f"model asks: {response.text}")
        answers = []
        for question in response.interrupts:
            choice = question.tool_request.input["choices"][0]  # the user picks the first choice
            print(f"  choices: {question.tool_request.input['choices']} -> user answers: {choice}")
            answers.append(askQuestion.respond(question, choice))
        response = await ai.generate(
            tools=[askQuestion],
            messages=response.messages,
            resume=Resume(respond=answers),
        )

    print(f"model: {response.text}")
    return response


if __name__ == "__main__":
    asyncio.run(main())
