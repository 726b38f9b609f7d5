"""Re-execute stored runs against an app (the same, or another model or prompt) and compare.

Each replayed run is a new run, ``{run_id}.rp-{label}``, tagged with the run it replays, in an
isolated namespace: a production worker for the replay app runs in this process on an
in-memory log (no live topic sees anything) and on a store of its own (a temporary directory,
or a separate prefix of the bucket). The replay starts from the original request, or from a
chosen pause (``from_version``: that pause's state becomes the replay's first pause).

What is and is not re-executed:

- The model is called again: that is the point of a replay.
- Recorded human answers are re-applied, pause by pause, to the questions the replay asks again
  (same interrupt, same input), in the order they were given and under the original answerer's
  name. A question the original never asked is not answered: the replay stops there and the
  report names the question.
- Tools declared ``replay_safe`` run again. Every other tool gets the output the original run
  recorded for the same tool and input, and never runs; with no recorded output the replayed
  run fails with a "blocked effect". ``allow_effects=True`` runs every tool for real.

Resumable: each finished run's report is stored (``reports/{label}/{run_id}``, conditional
create) before it is counted, and a second invocation with the same label skips every run that
has one (one LIST per 1,000 reports). A run cut off mid-way (steps stored, no report) is
replayed again from its start under the next free id (``{run_id}.rp-{label}.2``).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeAlias

import msgspec
from intermission_producer import IntermissionClient
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    ResumeRejected,
    RunCompleted,
    RunFailed,
    decode_approval,
    decode_dead_letter,
    decode_result,
    encode,
)

from .._app import Intermission
from .._middleware import Middleware, ModelNext, ToolNext
from .._model import Model, ModelRequest, ModelResponse
from .._tools import Tool, ToolContext
from ..errors import UsageError
from ..service.adapters.local import MemoryLog
from ..service.ports import PreconditionFailed, SnapshotStore
from ..service.wiring.compose import build_worker, named_model
from ..service.wiring.settings import Settings
from ..stored import REPLAY_LABEL, REPLAY_OF, Answer, Sealer, StoredRun, load_run, tool_calls
from ._fork import start_from_pause

__all__ = ["EffectBlockedError", "Replay", "ReplayReport", "ReplaySummary", "replay_run_id"]

Outcome = Literal["completed", "failed", "expired", "pending", "stopped", "error"]


class EffectBlockedError(Exception):
    """An unsafe tool was called in a replay without allowed effects, and the original run
    recorded no output for that call."""


class ReplayReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    run_id: str
    replay_run_id: str
    label: str
    same: bool
    reasons: list[str]  # why the replay differs; empty when it is the same
    original: str  # completed, failed, expired, pending
    replayed: str  # the same, or stopped (a new question), error
    original_text: str = ""
    replayed_text: str = ""
    text_diff: str = ""
    output_diff: str = ""
    tool_calls_diff: str = ""
    new_questions: list[dict[str, Any]] = []  # {"tool", "input"} the original never asked
    answers_applied: int = 0
    effects_run: int = 0  # tool calls that ran for real (replay-safe tools, or allowed effects)
    effects_replayed: int = 0  # unsafe tool calls answered with the recorded output
    blocked: list[str] = []  # unsafe tool calls with no recorded output


class ReplaySummary(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    # The runs replayed by this invocation; only the differing ones with run(keep_same=False).
    reports: list[ReplayReport]
    skipped: list[str]  # run ids replayed by an earlier invocation (their reports are stored)
    replayed: int = 0  # runs replayed by this invocation, kept in ``reports`` or not
    same: int = 0  # of those, the runs that replayed the same

    @property
    def differing(self) -> list[ReplayReport]:
        return [r for r in self.reports if not r.same]


def replay_run_id(run_id: str, label: str) -> str:
    # Run ids are at most 128 characters: a long id keeps a digest of itself for uniqueness.
    tail = f".rp-{label}"
    if len(run_id) + len(tail) <= 128:
        return run_id + tail
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"{run_id[: 128 - len(tail) - 13]}-{digest}{tail}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _report_key(label: str, run_id: str) -> str:
    return f"reports/{label}/{run_id}"


class _Recorded:
    """Per original run: recorded outputs of tool calls, the pauses its tools raised, and what
    the replay did with tools."""

    def __init__(self, run: StoredRun) -> None:
        self.outputs: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for call in run.tool_calls():
            if call.answered:
                self.outputs[(call.name, _canonical(call.input))].append(call.output)
        # A gated tool (transferMoney) paused before it ran: each pause it raised, in order, so
        # the replay pauses where the original did and the recorded answer is asked for again.
        self.interrupts: dict[tuple[str, str], list[Any]] = defaultdict(list)
        seen: set[tuple[int, str]] = set()
        for snapshot in run.snapshots:
            for part in snapshot.paused.interrupts:
                if (snapshot.snapshot_version, part.tool_request.ref or "") in seen:
                    continue
                seen.add((snapshot.snapshot_version, part.tool_request.ref or ""))
                key = (part.tool_request.name, _canonical(_model_input(part)))
                self.interrupts[key].append(part.interrupt)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.effects_run = 0
        self.effects_replayed = 0
        self.blocked: list[str] = []


class _ReplayHooks(Middleware):
    """The replay's effect policy and model, as hooks around every call of a replayed step.

    A tool marked ``replay_safe`` (or any, with ``allow_effects``) runs; any other is answered
    with the original run's recorded output for the same input, and a call with none is
    blocked. With a ``model``, every model call of the step is made to it instead (a prompt's
    own model included): the replay asks how that model would have done."""

    def __init__(self, recorded: dict[str, _Recorded], *, allow_effects: bool, model: Model | None) -> None:
        self.recorded = recorded
        self.allow_effects = allow_effects
        self.replacement = model

    async def model(self, request: ModelRequest, call_next: ModelNext) -> ModelResponse:
        if self.replacement is None:
            return await call_next(request)
        return await self.replacement.generate(request)

    async def tool(self, tool: Tool, value: Any, ctx: ToolContext, call_next: ToolNext) -> Any:
        recorded = self.recorded.get(str((ctx.context.get("tags") or {}).get(REPLAY_OF)))
        if recorded is None:
            raise EffectBlockedError(f"tool {tool.name!r} called outside a replayed run")
        if tool.replay_safe or self.allow_effects:
            recorded.effects_run += 1
            return await call_next(value, ctx)
        # Keyed by the model's input: a restart that replaced it still answers that request.
        given = ctx.original_input if ctx.original_input is not None else tool.input.dump(value)
        key = (tool.name, _canonical(given))
        attempt = recorded.calls[key]
        recorded.calls[key] += 1
        paused = recorded.interrupts.get(key, [])
        if attempt < len(paused):
            ctx.interrupt(paused[attempt])
        outputs = recorded.outputs.get(key)
        if not outputs:
            recorded.blocked.append(f"{tool.name} {key[1]}")
            raise EffectBlockedError(
                f"tool {tool.name!r} has no recorded output for input {key[1]} (effects not allowed)"
            )
        recorded.effects_replayed += 1
        return outputs.pop(0) if len(outputs) > 1 else outputs[0]


class Replay:
    """Replays stored runs under one ``label``; see the module for what is re-executed.

    replay = Replay(source=store, sealer=Sealer(None), ai=app, label="gemini-3",
                    model="gemini-3-flash", target=LocalSnapshotStore("/tmp/replays"))
    summary = await replay.run(["r1", "r2"])
    for report in summary.differing:
        print(report.run_id, report.reasons)
    """

    def __init__(
        self,
        *,
        source: SnapshotStore,
        sealer: Sealer,
        ai: Intermission,
        target: SnapshotStore,
        label: str,
        model: Model | str | None = None,
        allow_effects: bool = False,
        from_version: int | None = None,
        concurrency: int = 8,
        step_timeout: float = 30.0,
        batch: int = 500,
    ) -> None:
        if not label or any(c not in _LABEL_CHARS for c in label):
            raise UsageError(f"label={label!r}: a replay label is letters, digits, '.', '_' and '-'")
        if not isinstance(ai, Intermission):
            raise UsageError(
                f"ai={type(ai).__name__}: pass the app (the Intermission your tools are defined on), "
                "as `--app module:attribute` names it"
            )
        if concurrency < 1:
            raise UsageError(f"concurrency={concurrency}: replay at least one run at a time")
        if batch < 1:
            raise UsageError(f"batch={batch}: a batch holds at least one run")
        if from_version is not None and from_version < 1:
            raise UsageError(f"from_version={from_version}: pauses are numbered from 1")
        self.source = source
        self.sealer = sealer
        self.target = target
        self.label = label
        self.allow_effects = allow_effects
        self.from_version = from_version
        self.concurrency = concurrency
        self.step_timeout = step_timeout
        self.batch = batch  # runs per in-memory log and worker: bounds the replay's memory
        self.settings = Settings()  # no seal key: the replay's own steps are sealed with sha256
        self.target_sealer = Sealer(None)
        self._recorded: dict[str, _Recorded] = {}
        self.ai = ai
        # Every model and tool call of a replayed step goes through these (inside the journal).
        self.hooks = _ReplayHooks(
            self._recorded,
            allow_effects=allow_effects,
            model=named_model(ai, model) if isinstance(model, str) else model,
        )

    # -- running -------------------------------------------------------------------------------

    async def done(self) -> set[str]:
        """Run ids that already have a stored report under this label."""
        prefix = _report_key(self.label, "")
        return {key[len(prefix) :] for key in await self.target.list(prefix)}

    async def reports(self) -> list[ReplayReport]:
        """Every stored report of this label (one GET each)."""
        found = []
        for run_id in sorted(await self.done()):
            stored = await self.target.get(_report_key(self.label, run_id))
            if stored is not None:
                found.append(msgspec.json.decode(stored.data, type=ReplayReport))
        return found

    async def run(
        self,
        run_ids: Iterable[str],
        on_progress: Callable[[ReplayReport | None], None] | None = None,
        *,
        keep_same: bool = True,
    ) -> ReplaySummary:
        """Replay each run not replayed before; ``on_progress`` gets each report (None for a
        skipped run). ``keep_same=False`` keeps only differing reports in the summary (every
        report is stored: `reports()`), so a replay of any size holds only what differs."""
        wanted = list(dict.fromkeys(run_ids))
        done = await self.done()
        skipped = [r for r in wanted if r in done]
        for _ in skipped:
            if on_progress is not None:
                on_progress(None)
        todo = [r for r in wanted if r not in done]
        reports: list[ReplayReport] = []
        same = 0
        # In batches, each on a log and worker of its own: the in-memory log keeps every record
        # it is given, so one log for all runs would grow with the replay.
        for start in range(0, len(todo), self.batch):
            batch = await self._batch(todo[start : start + self.batch], on_progress)
            same += sum(1 for r in batch if r.same)
            reports += batch if keep_same else [r for r in batch if not r.same]
        order = {r: i for i, r in enumerate(todo)}
        reports.sort(key=lambda r: order[r.run_id])
        return ReplaySummary(
            label=self.label, reports=reports, skipped=skipped, replayed=len(todo), same=same
        )

    async def _batch(
        self, todo: list[str], on_progress: Callable[[ReplayReport | None], None] | None
    ) -> list[ReplayReport]:
        reports: list[ReplayReport] = []
        log = MemoryLog()
        topics = self.settings.topics
        worker = build_worker(self.settings, store=self.target, publisher=log, ai=self.ai, use=[self.hooks])
        subscription = log.subscribe([topics.requests, topics.resumes], "replay")
        task = asyncio.create_task(worker.run(subscription), name=f"replay-{self.label}")
        router = _Router(log, [topics.approvals, topics.results, topics.dead_letter])
        routing = asyncio.create_task(router.run(), name=f"replay-{self.label}-events")
        queue = iter(todo)

        async def replayer() -> None:
            # A fixed pool pulling run ids: no task per run waits on a semaphore.
            for run_id in queue:
                report = await self._replay_one(run_id, log, router)
                with contextlib.suppress(PreconditionFailed):  # a concurrent invocation stored it
                    await self.target.create(_report_key(self.label, run_id), msgspec.json.encode(report))
                reports.append(report)
                if on_progress is not None:
                    on_progress(report)

        failure: BaseException | None = None
        try:
            async with IntermissionClient(transport=log, topics=topics) as self._client:
                try:
                    # A TaskGroup: when one replayer fails (or progress reporting raises), the
                    # others stop too rather than run on after the replay has returned.
                    async with asyncio.TaskGroup() as group:
                        for _ in range(min(self.concurrency, len(todo))):
                            group.create_task(replayer())
                except BaseExceptionGroup as failed:
                    failure = failed.exceptions[0]
        finally:
            routing.cancel()
            await subscription.close()
            try:
                async with asyncio.timeout(30):
                    await task
            except TimeoutError:
                task.cancel()
            await asyncio.gather(routing, return_exceptions=True)
        if failure is not None:
            raise failure
        return reports

    async def _replay_one(self, run_id: str, log: MemoryLog, router: _Router) -> ReplayReport:
        new_id = await self._fresh_id(run_id)
        original = await load_run(self.source, self.sealer, run_id)

        def error(why: str) -> ReplayReport:
            return ReplayReport(
                run_id=run_id,
                replay_run_id=new_id,
                label=self.label,
                same=False,
                reasons=[why],
                original=original.status,
                replayed="error",
            )

        if not original.snapshots:
            if original.result is None:
                return error("no stored run")
            return error("not replayable: the run never paused, so its request is not stored")
        recorded = self._recorded[run_id] = _Recorded(original)
        # Registered before anything is published, so the router keeps every event of the run.
        events = router.follow(new_id)
        answers = [a for a in original.answers() if a.version >= (self.from_version or 1)]
        tags = {REPLAY_OF: run_id, REPLAY_LABEL: self.label}
        topics = self.settings.topics
        if self.from_version is not None:
            if self.from_version > len(original.snapshots):
                return error(f"the run has no pause {self.from_version}")
            await start_from_pause(
                ai=self.ai,
                store=self.target,
                sealer=self.target_sealer,
                publisher=log,
                topics=topics,
                parent=original.snapshots[self.from_version - 1],
                run_id=new_id,
                tags=tags,
            )
        else:
            first = original.snapshots[0].request
            request: GenerateRequest = msgspec.structs.replace(
                first,
                run_id=new_id,
                idempotency_key=new_id,
                reply_to=None,
                tags={**first.tags, **tags},
            )
            await log.publish(topics.requests, new_id, encode(request))
        try:
            replayed = await self._drive(new_id, answers, events)
        except TimeoutError:
            return error(f"no progress within {self.step_timeout:g} s")
        finally:
            self._recorded.pop(run_id, None)
            router.forget(new_id)
        return _compare(run_id, new_id, self.label, original, replayed, recorded, len(answers))

    async def _fresh_id(self, run_id: str) -> str:
        """The replay's run id; a run cut off by an earlier invocation (steps stored, no report)
        is replayed again from the start under the next free id, ``...rp-{label}.2`` and on."""
        base = new_id = replay_run_id(run_id, self.label)
        attempt = 1
        while await self.target.list_page(f"runs/{new_id}/", limit=1):
            attempt += 1
            new_id = f"{base[: 128 - 8]}.{attempt}"
        return new_id

    async def _drive(self, run_id: str, answers: list[Answer], events: _Events) -> _Replayed:
        """Answer the replay's pauses from ``answers`` until it ends or asks something new."""
        topics = self.settings.topics
        handled: set[int] = set()
        replayed = _Replayed()
        remaining = list(answers)
        replayed.unused = len(remaining)
        while True:
            async with asyncio.timeout(self.step_timeout):
                topic, value = await events.get()
            if topic == topics.dead_letter:
                letter = decode_dead_letter(value)
                replayed.outcome, replayed.detail = "error", f"dead-lettered: {letter.reason}"
                return replayed
            if topic == topics.results:
                event = decode_result(value)
                if isinstance(event, ResumeRejected):
                    replayed.outcome, replayed.detail = "error", f"answer rejected: {event.detail}"
                    return replayed
                replayed.end = event
                stored = await load_run(self.target, self.target_sealer, run_id)
                replayed.messages = stored.messages
                replayed.outcome = (
                    "completed"
                    if isinstance(event, RunCompleted)
                    else "expired"
                    if event.code == "expired"
                    else "failed"
                )
                return replayed
            raised = decode_approval(value)
            if not isinstance(raised, InterruptRaised) or raised.snapshot.version in handled:
                continue
            handled.add(raised.snapshot.version)
            if not await self._answer(raised, remaining, replayed):
                stored = await load_run(self.target, self.target_sealer, run_id)
                replayed.messages = stored.messages
                replayed.outcome = "stopped"
                return replayed

    async def _answer(self, raised: InterruptRaised, remaining: list[Answer], replayed: _Replayed) -> bool:
        by_answerer: dict[str, list[Answer]] = defaultdict(list)
        for pending in raised.interrupts:
            if pending.ref in raised.answered:
                continue
            match = next(
                (
                    a
                    for a in remaining
                    if a.tool == pending.tool and _canonical(a.input) == _canonical(pending.input)
                ),
                None,
            )
            if match is None:
                replayed.new_questions.append({"tool": pending.tool, "input": pending.input})
                continue
            remaining.remove(match)
            by_answerer[match.answered_by].append(msgspec.structs.replace(match, ref=pending.ref))
        if replayed.new_questions:
            return False
        for answerer, given in by_answerer.items():
            who = hashlib.sha256(answerer.encode()).hexdigest()[:8]
            await self._client.resume(
                raised,
                respond={a.ref: a.respond for a in given if not a.restart} or None,
                restart={a.ref: a.resumed for a in given if a.restart} or None,
                replace_input={a.ref: a.replace_input for a in given if a.restart and a.replaces_input}
                or None,
                answered_by=answerer,
                resume_id=f"{raised.run_id[-100:]}:{raised.snapshot.version}:{who}",
            )
            replayed.answers_applied += len(given)
        replayed.unused = len(remaining)
        return True

    _client: IntermissionClient


def _model_input(part: Any) -> Any:
    """The input the model sent for an interrupted request (a re-paused restart records the
    replaced input in the request and the model's in ``replacedInput``)."""
    metadata = part.metadata or {}
    return metadata.get("replacedInput", part.tool_request.input)


_Events: TypeAlias = asyncio.Queue[tuple[str, bytes]]  # (topic, value) of one run, in order


class _Router:
    """One reader of a batch's event topics, handing each record to the run it is keyed by.

    Each run reading the log from its beginning would cost every run the whole batch's records;
    this reads each record once."""

    def __init__(self, log: MemoryLog, topics: list[str]) -> None:
        self.log = log
        self.topics = topics
        self.runs: dict[bytes, _Events] = {}

    def follow(self, run_id: str) -> _Events:
        queue: _Events = asyncio.Queue()
        self.runs[run_id.encode()] = queue
        return queue

    def forget(self, run_id: str) -> None:
        self.runs.pop(run_id.encode(), None)

    async def run(self) -> None:
        async with self.log.read(self.topics, start="beginning") as records:
            async for record in records:
                queue = self.runs.get(record.key or b"")
                if queue is not None and record.value is not None:
                    queue.put_nowait((record.topic, record.value))


_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class _Replayed:
    def __init__(self) -> None:
        self.outcome: Outcome = "pending"
        self.detail = ""
        self.end: RunCompleted | RunFailed | None = None
        self.messages: list[Any] = []
        self.new_questions: list[dict[str, Any]] = []
        self.answers_applied = 0
        self.unused = 0


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, default=str)
    return text.splitlines()


def _diff(before: Any, after: Any, what: str) -> str:
    return "\n".join(
        difflib.unified_diff(
            _lines(before), _lines(after), f"original {what}", f"replayed {what}", lineterm=""
        )
    )


def _calls(messages: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"tool": c.name, "input": c.input} for c in tool_calls(list(messages))]


def _compare(
    run_id: str,
    new_id: str,
    label: str,
    original: StoredRun,
    replayed: _Replayed,
    recorded: _Recorded,
    answers: int,
) -> ReplayReport:
    before, after = original.outcome, replayed.end
    before_text = before.text if isinstance(before, RunCompleted) else ""
    after_text = after.text if isinstance(after, RunCompleted) else ""
    before_output = before.output if isinstance(before, RunCompleted) else None
    after_output = after.output if isinstance(after, RunCompleted) else None
    reasons: list[str] = []
    original_status = original.status
    if original_status != replayed.outcome:
        detail = f" ({replayed.detail})" if replayed.detail else ""
        if isinstance(after, RunFailed):
            detail = f" ({after.code}: {after.message})"
        reasons.append(f"outcome {original_status} -> {replayed.outcome}{detail}")
    elif isinstance(before, RunFailed) and isinstance(after, RunFailed) and before.code != after.code:
        reasons.append(f"failure {before.code} -> {after.code}")
    text_diff = _diff(before_text, after_text, "text") if before_text != after_text else ""
    if text_diff:
        reasons.append("final text differs")
    output_diff = _diff(before_output, after_output, "output") if before_output != after_output else ""
    if output_diff:
        reasons.append("structured output differs")
    before_calls, after_calls = _calls(original.messages), _calls(replayed.messages)
    calls_diff = ""
    if replayed.outcome != "error" and _canonical(before_calls) != _canonical(after_calls):
        calls_diff = _diff(before_calls, after_calls, "tool calls")
        reasons.append("tool calls differ")
    for question in replayed.new_questions:
        reasons.append(
            f"asked a question the original never did: {question['tool']} {_canonical(question['input'])}"
        )
    if replayed.unused and replayed.outcome != "stopped":
        reasons.append(f"{replayed.unused} recorded answer(s) not asked for")
    if recorded.blocked:
        reasons.append(f"blocked {len(recorded.blocked)} tool call(s) with outside effects")
    return ReplayReport(
        run_id=run_id,
        replay_run_id=new_id,
        label=label,
        same=not reasons,
        reasons=reasons,
        original=original_status,
        replayed=replayed.outcome,
        original_text=before_text,
        replayed_text=after_text,
        text_diff=text_diff,
        output_diff=output_diff,
        tool_calls_diff=calls_diff,
        new_questions=replayed.new_questions,
        answers_applied=replayed.answers_applied,
        effects_run=recorded.effects_run,
        effects_replayed=recorded.effects_replayed,
        blocked=recorded.blocked,
    )
