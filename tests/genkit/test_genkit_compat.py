"""Wire compatibility with Genkit, both ways, against histories the real Genkit packages wrote.

fixtures/js/*.json were written by Genkit JS (npm ``genkit``, fixtures/js/generate.mjs) and
fixtures/python/*.json by Genkit Python (PyPI ``genkit``, fixtures/python/generate.py), with a
model defined in the script and no network. Each holds a scenario's history at the pause and,
for each way of answering it, the answers and the history after the resume. No npm is needed
here: the JSON is committed.

Checked for every fixture: it decodes; it re-encodes to the same JSON; Intermission resumes it
to completion with the same answers and writes the history Genkit wrote; Intermission running the
same scenario from the prompt writes Genkit's history too; and every history Intermission writes
validates against Genkit's published JSON Schema (schema/genkit-schema.json) and Genkit Python's
``Message`` model, which forbids extra keys.

Genkit JS and Genkit Python differ where a finished sibling's ``pendingOutput`` is replayed: JS
leaves the request's other metadata (``"metadata": {}`` when none is left) and copies it onto the
response beside ``source: "pending"``; Python drops the key and writes only the marker.
Intermission writes what JS writes, so JS histories are compared exactly and Python's through
`same`, which treats an empty metadata object as absent.

The JS-only scenarios (JS_SCENARIOS) pin what Genkit JS does that Python 0.12 does not: refs left
out (answers matched by name plus ref), answers stored as given (nulls, unknown keys, integers),
metadata copied onto replayed output, and two pauses in a row; SUITE widens them (issue 19).
Genkit JS writes a resume's tool responses as they settle: answers and replayed output first, in
call order, then the restarted tools; Intermission writes that order (``deny``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from intermission import (
    Intermission,
    ModelRequest,
    Resume,
    ScriptedModel,
    Tool,
    ToolContext,
    reply,
    tool_call,
)
from intermission_schemas import (
    Message,
    ToolRequestPart,
    ToolResponsePart,
    decode_messages,
    encode,
    pending_interrupts,
)
from pydantic import BaseModel

HERE = Path(__file__).parent
SCENARIOS = ["question", "transfer", "multi"]
# Issue 19's wider suite: parallel questions of one tool, a ref-less restart, approve one and
# deny one, normal turns before the pause, nested metadata objects, a signed restart.
SUITE = ["parallel", "refrestart", "deny", "turns", "nested", "signedrestart"]
JS_SCENARIOS = ["refless", "loose", "thought", "twice", *SUITE]
FIXTURES = sorted(
    p
    for p in (HERE / "fixtures").glob("*/*.json")
    if p.stem in SCENARIOS or (p.parent.name == "js" and p.stem in JS_SCENARIOS)
)
FIXTURE_IDS = [f"{p.parent.name}-{p.stem}" for p in FIXTURES]
GENKIT_SCHEMA = json.loads((HERE / "schema" / "genkit-schema.json").read_text(encoding="utf-8"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_there_are_fixtures_from_both_genkits_for_every_scenario() -> None:
    found = {(p.parent.name, p.stem) for p in FIXTURES}
    both = {(lang, s) for lang in ("js", "python") for s in SCENARIOS}
    assert found == both | {("js", s) for s in JS_SCENARIOS}
    assert (HERE / "fixtures" / "js" / "generate.mjs").is_file()
    assert (HERE / "fixtures" / "python" / "generate.py").is_file()
    for path in FIXTURES:
        assert load(path)["generator"].startswith("genkit ")


# -- the same scenario in Intermission ---------------------------------------------------------


def signed(part: ToolRequestPart, signature: str) -> ToolRequestPart:
    return ToolRequestPart(part.tool_request, metadata={"thoughtSignature": signature})


# Each scenario's model turns, as in generate.mjs: turn i answers a history with i tool messages.
CALLS: dict[str, list[ToolRequestPart] | list[list[ToolRequestPart]]] = {
    "question": [tool_call("askQuestion", {"choices": ["Casablanca", "Vertigo"]}, ref="ask-1")],
    "transfer": [tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000}, ref="transfer-1")],
    "multi": [
        tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}, ref="ask-1"),
        tool_call("lookupWeather", {"city": "Oslo"}, ref="weather-1"),
        tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000}, ref="transfer-1"),
    ],
    "refless": [
        tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}),
        tool_call("bookTable", {"restaurant": "Luigi", "people": 4}),
        tool_call("lookupWeather", {"city": "Oslo"}),
    ],
    "loose": [tool_call("rateMeal", {"meal": "soup"}, ref="rate-1")],
    "thought": [
        signed(tool_call("lookupWeather", {"city": "Oslo"}, ref="weather-1"), "c2lnLTE="),
        signed(tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}, ref="ask-1"), "c2lnLTI="),
    ],
    "parallel": [
        tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}, ref="ask-1"),
        tool_call("askQuestion", {"choices": ["lunch", "dinner"]}, ref="ask-2"),
        tool_call("lookupWeather", {"city": "Oslo"}, ref="weather-1"),
    ],
    "refrestart": [tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000})],
    "deny": [
        tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000}, ref="transfer-1"),
        tool_call("transferMoney", {"toAccountId": "XYZ789", "amount": 5000}, ref="transfer-2"),
    ],
    "turns": [
        [tool_call("lookupWeather", {"city": "Oslo"}, ref="weather-1")],
        [tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}, ref="ask-1")],
    ],
    "nested": [tool_call("deleteFiles", {"paths": ["a.txt", "b.txt", "c.txt"]}, ref="delete-1")],
    "signedrestart": [
        signed(tool_call("lookupWeather", {"city": "Oslo"}, ref="weather-1"), "c2lnLTM="),
        signed(
            tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000}, ref="transfer-1"),
            "c2lnLTQ=",
        ),
    ],
    "twice": [
        [tool_call("askQuestion", {"choices": ["Casablanca", "Vertigo"]}, ref="ask-1")],
        [tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000}, ref="transfer-1")],
    ],
}


def turns(scenario: str) -> list[list[ToolRequestPart]]:
    calls = CALLS[scenario]
    return calls if isinstance(calls[0], list) else [calls]  # type: ignore[return-value]


class Choices(BaseModel):
    choices: list[str]


class TransferInput(BaseModel):
    toAccountId: str
    amount: int


class TransferOutput(BaseModel):
    status: str
    message: str


class City(BaseModel):
    city: str


class Weather(BaseModel):
    city: str
    celsius: float


class Booking(BaseModel):
    restaurant: str
    people: int


class BookingAnswer(BaseModel):
    confirmed: bool
    note: str | None  # required, but may be null


class Paths(BaseModel):
    paths: list[str]


class Deleted(BaseModel):
    deleted: int


class Meal(BaseModel):
    meal: str


class Rating(BaseModel):
    stars: float  # no extra="forbid": other keys are allowed, as zod's JSON Schema allows them


def canned(request: ModelRequest) -> Message:
    scenario = request.messages[0].text
    turn = sum(1 for m in request.messages if m.role == "tool")
    scripted = turns(scenario)
    return reply(*scripted[turn]) if turn < len(scripted) else reply("Done.")


def define_ask(ai: Intermission) -> Tool:
    return ai.define_interrupt(
        name="askQuestion",
        description="use this to ask the user a clarifying question",
        input_schema=Choices,
        output_schema=str,
    )


def define_weather(ai: Intermission) -> Tool:
    @ai.define_tool(name="lookupWeather", description="Looks up the weather.")
    async def weather(input: City, ctx: ToolContext) -> Weather:
        return Weather(city=input.city, celsius=21.5)

    return weather


def engine() -> tuple[Intermission, dict[str, Tool]]:
    ai = Intermission(model=ScriptedModel(canned))
    ask = define_ask(ai)

    @ai.define_tool(name="transferMoney", description="Transfers money; needs approval above $100.")
    async def transfer(input: TransferInput, ctx: ToolContext) -> TransferOutput:
        if ctx.resumed is None and input.amount > 100:
            ctx.interrupt({"message": "Please confirm sending an amount > $100.", "level": 1})
        resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
        by = f" approved by {resumed['approvedBy']}" if "approvedBy" in resumed else ""
        return TransferOutput(status="OK", message=f"sent {input.amount} to {input.toAccountId}{by}")

    weather = define_weather(ai)

    @ai.define_tool(name="deleteFiles", description="Deletes files; asks first.")
    async def delete(input: Paths, ctx: ToolContext) -> Deleted:
        if ctx.resumed is None:
            count = len(input.paths)
            ctx.interrupt(
                {
                    "reason": {"code": "BULK_DELETE", "count": count},
                    "paths": input.paths,
                    "flags": [True, None],
                }
            )
        keep = ctx.resumed.get("keep", []) if isinstance(ctx.resumed, dict) else []
        return Deleted(deleted=len([p for p in input.paths if p not in keep]))

    asks = [
        ai.define_interrupt(name=name, description=f"asks the user: {name}", input_schema=i, output_schema=o)
        for name, i, o in [("bookTable", Booking, BookingAnswer), ("rateMeal", Meal, Rating)]
    ]
    return ai, {t.name: t for t in (ask, transfer, weather, delete, *asks)}


def resume_for(interrupts: list[ToolRequestPart], case: dict[str, Any], tools: dict[str, Tool]) -> Resume:
    """Intermission's answers for a fixture's resume case, given as data in the fixture."""
    respond, restart = [], []
    for interrupt in interrupts:
        name = interrupt.tool_request.name
        tool = tools[name]
        # Keyed by ref, or by name where the model sent none (the interrupt has a derived ref).
        answer = case["answers"].get(interrupt.tool_request.ref) or case["answers"][name]
        if "respond" in answer:
            given = answer["respond"]
            respond.append(tool.respond(interrupt, given["output"], metadata=given.get("metadata")))
        else:
            given = answer["restart"]
            restart.append(
                tool.restart(interrupt, given.get("resumed"), replace_input=given.get("replaceInput"))
            )
    return Resume(respond=respond, restart=restart, metadata=case.get("metadata"))


def as_json(messages: list[Message]) -> list[Any]:
    return json.loads(encode(messages))  # type: ignore[no-any-return]


def same(node: Any) -> Any:
    """JSON for comparing histories: an empty metadata object counts as absent (see above)."""
    if isinstance(node, dict):
        return {k: same(v) for k, v in node.items() if not (k == "metadata" and v == {})}
    if isinstance(node, list):
        return [same(v) for v in node]
    return node


def as_written_by(path: Path, history: list[Any]) -> list[Any]:
    """A history as the fixture's Genkit would write it: exact for JS, through `same` for Python."""
    return history if path.parent.name == "js" else same(history)  # type: ignore[no-any-return]


def chain(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A resume case and, when it paused again, the resumes that followed (``then``)."""
    steps = [case]
    while "then" in steps[-1]:
        steps.append(steps[-1]["then"])
    return steps


def resume_cases() -> list[tuple[Path, str]]:
    return [(path, how) for path in FIXTURES for how in load(path)["resumes"]]


# -- Genkit -> Intermission ---------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_every_genkit_history_decodes_and_re_encodes_to_the_same_json(path: Path) -> None:
    fixture = load(path)
    histories = [fixture["paused"], *(case["messages"] for case in fixture["resumes"].values())]
    histories += [step["messages"] for case in fixture["resumes"].values() for step in chain(case)[1:]]
    for history in histories:
        messages = decode_messages(json.dumps(history).encode())
        assert as_json(messages) == history
    for step in [step for case in fixture["resumes"].values() for step in chain(case)]:
        # The answers Genkit built (respond and restart parts) decode as parts too.
        parts = [*step["resume"]["respond"], *step["resume"]["restart"]]
        [message] = decode_messages(json.dumps([{"role": "tool", "content": parts}]).encode())
        assert as_json([message])[0]["content"] == parts


def genkits_answers(step: dict[str, Any], tools: dict[str, Tool]) -> Resume:
    """The respond/restart parts Genkit built for a step, as they are."""
    given = step["resume"]
    [answers] = decode_messages(
        json.dumps([{"role": "tool", "content": [*given["respond"], *given["restart"]]}]).encode()
    )
    respond = [p for p in answers.content if isinstance(p, ToolResponsePart)]
    restart = [p for p in answers.content if isinstance(p, ToolRequestPart)]
    return Resume(respond=respond, restart=restart, metadata=step.get("metadata"))


def ours(step: dict[str, Any], tools: dict[str, Tool]) -> Resume:
    """Intermission's own answers for a step, built with respond/restart on its interrupts."""
    return resume_for(pending_interrupts(step["_messages"]), step, tools)


@pytest.mark.parametrize("answers", [ours, genkits_answers], ids=["our-answers", "genkits-answers"])
@pytest.mark.parametrize(
    ("path", "how"), resume_cases(), ids=lambda v: v if isinstance(v, str) else f"{v.parent.name}-{v.stem}"
)
async def test_intermission_resumes_a_genkit_history_as_genkit_did(
    path: Path, how: str, answers: Any
) -> None:
    # With Genkit's own answers, ref-less ones are matched by name plus ref, as Genkit does.
    fixture = load(path)
    ai, tools = engine()
    messages = decode_messages(json.dumps(fixture["paused"]).encode())
    for step in chain(fixture["resumes"][how]):
        resume = answers({**step, "_messages": messages}, tools)
        done = await ai.generate(messages=messages, tools=list(tools.values()), resume=resume)
        assert done.finish_reason == step["finishReason"]
        assert as_written_by(path, as_json(done.messages)) == as_written_by(path, step["messages"])
        messages = decode_messages(json.dumps(step["messages"]).encode())
    assert done.finish_reason == "stop"


# -- Intermission -> Genkit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "how"), resume_cases(), ids=lambda v: v if isinstance(v, str) else f"{v.parent.name}-{v.stem}"
)
async def test_intermission_writes_the_history_genkit_writes(path: Path, how: str) -> None:
    fixture = load(path)
    ai, tools = engine()
    paused = await ai.generate(prompt=fixture["prompt"], tools=list(tools.values()))
    assert paused.finish_reason == fixture["finishReason"] == "interrupted"
    assert as_written_by(path, as_json(paused.messages)) == as_written_by(path, fixture["paused"])
    for step in chain(fixture["resumes"][how]):
        # Through bytes, as a pause is stored and resumed elsewhere.
        loaded = Intermission.load_paused(encode(paused.to_paused()))
        paused = await ai.generate(
            messages=loaded.messages,
            tools=list(tools.values()),
            resume=resume_for(loaded.interrupts, step, tools),
        )
        assert paused.finish_reason == step["finishReason"]
        assert as_written_by(path, as_json(paused.messages)) == as_written_by(path, step["messages"])


def our_histories() -> list[list[Any]]:
    """Every history Intermission writes for the fixtures' scenarios, as JSON."""
    import asyncio

    async def run() -> list[list[Any]]:
        out = []
        for path, how in resume_cases():
            fixture = load(path)
            ai, tools = engine()
            paused = await ai.generate(prompt=fixture["prompt"], tools=list(tools.values()))
            out.append(as_json(paused.messages))
            for step in chain(fixture["resumes"][how]):
                resume = resume_for(paused.interrupts, step, tools)
                paused = await ai.generate(
                    messages=paused.messages, tools=list(tools.values()), resume=resume
                )
                out.append(as_json(paused.messages))
        return out

    return asyncio.run(run())


@pytest.fixture(scope="module")
def histories() -> list[list[Any]]:
    return our_histories()


def genkit_message_validator() -> Any:
    schema = {"$schema": GENKIT_SCHEMA["$schema"], "$ref": "#/$defs/Message", "$defs": GENKIT_SCHEMA["$defs"]}
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def test_our_histories_validate_against_genkits_json_schema(histories: list[list[Any]]) -> None:
    validator = genkit_message_validator()
    for history in histories:
        for message in history:
            assert [e.message for e in validator.iter_errors(message)] == []


def test_genkits_json_schema_rejects_the_old_kind_tag() -> None:
    # The check above means something: a part as Intermission wrote it before schema version 2 fails.
    validator = genkit_message_validator()
    assert not validator.is_valid({"role": "user", "content": [{"kind": "text", "text": "hi"}]})
    assert validator.is_valid({"role": "user", "content": [{"text": "hi"}]})


def test_our_histories_validate_as_genkit_python_messages(histories: list[list[Any]]) -> None:
    from genkit import Message as GenkitMessage

    for history in histories:
        for message in history:
            parsed = GenkitMessage.model_validate(message)
            assert json.loads(parsed.model_dump_json(by_alias=True, exclude_none=True)) == message


def test_genkit_python_rejects_the_old_kind_tag() -> None:
    from genkit import Message as GenkitMessage

    with pytest.raises(ValueError, match="kind"):
        GenkitMessage.model_validate({"role": "user", "content": [{"kind": "text", "text": "hi"}]})


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_genkit_fixtures_validate_against_genkits_json_schema(path: Path) -> None:
    # The copy of the schema and the fixtures agree, so a failure above is ours.
    validator = genkit_message_validator()
    fixture = load(path)
    steps = [step for case in fixture["resumes"].values() for step in chain(case)]
    for history in [fixture["paused"], *(step["messages"] for step in steps)]:
        for message in history:
            assert [e.message for e in validator.iter_errors(message)] == []
