"""Seed: "Use interrupts / definePrompt", then "Respond to interrupts" through the same prompt.

The resume goes back through triviaPrompt with the paused messages; it does not render the
template again, so the history keeps exactly one user message (unlike Genkit issue #4652).
Run: ``uv run python examples/ask_question_prompt.py``.
"""

from __future__ import annotations

import asyncio

from intermission import GenerateResponse, Intermission, Message, ModelRequest, Resume, reply, tool_call
from pydantic import BaseModel, Field

from _model import example_model, tool_outputs


class Question(BaseModel):
    choices: list[str] = Field(description="the choices to display to the user")
    allowOther: bool | None = Field(default=None, description="when true, allow write-ins")


class TriviaInput(BaseModel):
    subject: str


def trivia_model(request: ModelRequest) -> Message | str:
    """Stands in for the LLM: asks about the subject it was prompted with, then grades the answer."""
    answers = tool_outputs(request)
    if answers:
        return f"You chose {answers[0]}. " + ("Correct!" if answers[0] == "ENIAC" else "It was ENIAC.")
    prompt = request.messages[-1].text  # "Ask me a trivia question about computer history."
    subject = prompt.removeprefix("Ask me a trivia question about ").rstrip(".")
    return reply(
        f"A {subject} question: which machine, finished in 1945, was the first general-purpose "
        "electronic computer?",
        tool_call("askQuestion", {"choices": ["ENIAC", "UNIVAC I", "Colossus"], "allowOther": False}),
    )


ai = Intermission(model=example_model(trivia_model))

askQuestion = ai.define_interrupt(
    name="askQuestion",
    description="use this to ask the user a clarifying question",
    input_schema=Question,
    output_schema=str,
)

triviaPrompt = ai.define_prompt(
    name="triviaPrompt",
    tools=[askQuestion],
    input_schema=TriviaInput,
    prompt="Ask me a trivia question about {{subject}}.",
)


async def main() -> GenerateResponse:
    response = await triviaPrompt({"subject": "computer history"})

    if response.interrupts:
        print(f"model asks: {response.text}")
        answers = []
        for question in response.interrupts:
            choice = question.tool_request.input["choices"][0]  # the user picks the first choice
            print(f"  choices: {question.tool_request.input['choices']} -> user answers: {choice}")
            answers.append(askQuestion.respond(question, choice))
        # resume through the prompt: same tools and config, and no second rendering of the template
        response = await triviaPrompt(messages=response.messages, resume=Resume(respond=answers))

    print(f"model: {response.text}")
    print(f"user messages in the history: {sum(m.role == 'user' for m in response.messages)}")
    return response


if __name__ == "__main__":
    asyncio.run(main())
