"""The inbox's server-rendered HTML: the page, and one card per run (re-fetched live)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

import msgspec
from intermission_schemas import (
    AnswerProblem,
    GenerateRequest,
    InterruptRaised,
    Message,
    PendingInterrupt,
    RespondAnswer,
    RestartAnswer,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    TextPart,
    ToolRequestPart,
    ToolResponsePart,
)

from ..service.demo.examples import EXAMPLES
from ..service.runs.authority import approvers_for
from .forms import offered_choices, render_choice_field, render_form_fields
from .summary import render_summary
from .view import Event, RunState

__all__ = ["render_card", "render_page"]


def _json(value: Any) -> str:
    return escape(json.dumps(msgspec.to_builtins(value), indent=1, ensure_ascii=False))


def _filters(tools: Sequence[str]) -> str:
    """Which cards show: by state, by tool, by run id; applied in the page (inbox.js)."""
    by_tool = "".join(f'<option value="{escape(t)}">{escape(t)}</option>' for t in tools)
    return (
        '<form id="filters" role="search" aria-label="Filter runs">'
        '<label>Show <select name="show"><option value="all">all (finished ones folded)</option>'
        '<option value="open">waiting or running</option>'
        '<option value="pending">waiting for an answer</option>'
        '<option value="answered">answered</option><option value="mine">mine</option></select></label>'
        f'<label>Tool <select name="tool"><option value="">any</option>{by_tool}</select></label>'
        '<label>Run id <input type="search" name="run" autocomplete="off"></label>'
        '<span class="count" role="status"></span></form>'
    )


def render_page(
    runs: Sequence[RunState],
    tools: Sequence[str],
    cards: Sequence[str],
    csrf_token: str = "",
    *,
    me: str = "",
) -> str:
    # The first tool with an example is chosen, and the prompt is its example: the two agree.
    first = next((t for t in EXAMPLES if t in tools), None)
    prompt = EXAMPLES.get(first or "", "Hello")
    options = "".join(_tool_option(t, t == first) for t in tools)
    body = "".join(cards) or '<p id="empty">No runs yet: start one above.</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Intermission inbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{escape(csrf_token)}">
<meta name="identity" content="{escape(me)}">
<link rel="stylesheet" href="/static/inbox.css"></head>
<body><header><h1>Intermission inbox</h1><small><span class="dot">●</span> live ·
<a href="/api/openapi.json">HTTP API</a></small></header>
<form id="start"><label>Prompt <input name="prompt" value="{escape(prompt)}"></label>
<label>Tool <select name="tool">{options}<option value="">(none)</option></select></label>
<button type="submit" class="primary">Start run</button><span class="status"></span></form>
{_filters(tools)}
<section id="runs" aria-label="Runs">{body}</section>
{_DENY_DIALOG}
<script src="/static/inbox.js"></script></body></html>"""


def _tool_option(tool: str, chosen: bool) -> str:
    example = f' data-example="{escape(EXAMPLES[tool])}"' if tool in EXAMPLES else ""
    selected = " selected" if chosen else ""
    return f'<option value="{escape(tool)}"{selected}{example}>{escape(tool)}</option>'


# One dialog for the page: Deny asks for a reason and a confirmation before anything is sent.
_DENY_DIALOG = """<dialog id="deny-dialog" aria-labelledby="deny-title">
<form method="dialog" class="deny"><h2 id="deny-title">Deny this call?</h2>
<p class="deny-what"></p>
<label>Reason (required) <textarea name="reason" rows="3" required></textarea></label>
<p class="status" role="status"></p>
<div class="actions"><button type="submit" value="deny" class="deny">Deny</button>
<button type="submit" value="cancel" formnovalidate class="secondary">Cancel</button></div>
</form></dialog>"""

_COMMENT = (
    '<label class="comment-label">Comment (optional, kept in the run\'s history) '
    '<textarea class="comment" rows="2"></textarea></label>'
)


def render_card(
    state: RunState,
    messages: Sequence[Message] | None,
    now: datetime | None = None,
    *,
    refusal: Callable[[str], AnswerProblem | None] = lambda tool: None,
) -> str:
    """One run's card. ``refusal(tool)`` says why the viewer's answer to a call of ``tool``
    would be refused: such calls show who must answer instead of buttons that cannot work."""
    status = state.status(now or datetime.now(UTC))
    raised = state.raised
    left = ""
    if status == "pending" and raised is not None:
        calls = state.open_interrupts()
        left = "".join(_interrupt(raised, i, _refused(state, i.tool, refusal)) for i in calls)
        if raised.answered:
            left += f"<p>Already answered: {escape(', '.join(raised.answered))}</p>"
        if raised.expires_at is not None:
            left += f"<p><small>expires {escape(raised.expires_at.isoformat(timespec='seconds'))}</small></p>"
    verdict = _verdict(state) if status == "completed" else None
    ending = _ending(state, status, verdict)
    right = _history(state.events, messages)
    badge = "denied" if verdict is not None and verdict[0] == "denied" else status
    head = (
        f'<article class="run {status}" id="run-{escape(state.run_id)}" data-run="{escape(state.run_id)}" '
        f"{_filter_data(state)}>"
        f'<h2>run <code>{escape(state.run_id)}</code> <span class="badge {badge}">{badge}</span></h2>'
    )
    if status in ("completed", "failed", "expired"):  # finished: its outcome, the rest folded
        return (
            f'{head}{ending}<details class="folded"><summary>History</summary>'
            f'<div class="history">{right}</div></details></article>'
        )
    return (
        f'{head}<div class="columns"><div class="decide">{left}{ending}</div>'
        f'<div class="history"><h3>History</h3>{right}</div></div></article>'
    )


def _filter_data(state: RunState) -> str:
    """What the page's filters match on: the tools involved and the people (asked, answered,
    named as approvers)."""
    tools = set(state.request.tools) if state.request is not None else set()
    if state.raised is not None:
        tools |= {i.tool for i in state.raised.interrupts}
    people = {r.answered_by for r in state.resumes if r.answered_by}
    if state.request is not None and state.request.requested_by:
        people.add(state.request.requested_by)
    if state.request is not None and state.raised is not None:  # "mine": waiting for me, by name
        for tool in {i.tool for i in state.raised.interrupts}:
            people |= {who for who in approvers_for(state.request, tool) if not who.startswith("@")}
    answered = "true" if state.resumes else "false"
    return (
        f'data-tools="{escape(json.dumps(sorted(tools)))}" '
        f'data-people="{escape(json.dumps(sorted(people)))}" data-answered="{answered}"'
    )


def _refused(
    state: RunState, tool: str, refusal: Callable[[str], AnswerProblem | None]
) -> tuple[AnswerProblem, list[str]] | None:
    problem = refusal(tool)
    if problem is None:
        return None
    return problem, approvers_for(state.request, tool) if state.request is not None else []


def _interrupt(
    raised: InterruptRaised, interrupt: PendingInterrupt, refused: tuple[AnswerProblem, list[str]] | None
) -> str:
    head = (
        f'<h3 class="call"><span class="tool-name">{escape(interrupt.tool)}</span> '
        f"<small>ref <code>{escape(interrupt.ref)}</code></small></h3>"
    )
    if interrupt.description:
        head += f'<p class="description">{escape(interrupt.description)}</p>'
    message = interrupt.metadata.get("message") if isinstance(interrupt.metadata, dict) else None
    if isinstance(message, str):
        head += f'<p class="says" role="note">{escape(message)}</p>'
    head += (
        f"<p>It wants to run with:</p>{render_summary(interrupt.input, interrupt.input_schema)}"
        f'<details class="raw"><summary>Raw JSON</summary><pre>{_json(interrupt.input)}</pre>'
    )
    if interrupt.metadata not in (None, True):
        head += f"<p>Interrupt metadata:</p><pre>{_json(interrupt.metadata)}</pre>"
    head += "</details>"
    if refused is not None:
        return f'<div class="interrupt">{head}{_not_yours(*refused)}</div>'
    common = (
        f'class="answer" data-run="{escape(raised.run_id)}" data-ref="{escape(interrupt.ref)}" '
        f'data-version="{raised.snapshot.version}"'
    )
    offered = offered_choices(interrupt.input, interrupt.output_schema)
    if offered is not None and interrupt.output_schema is not None:
        name = f"choice-{raised.run_id}-{interrupt.ref}"
        fields = render_choice_field(name, *offered, interrupt.output_schema)
    else:
        fields = render_form_fields(interrupt.output_schema)
    respond = (
        f'<div class="output">{fields}</div>'
        '<div class="actions"><button type="button" class="primary" data-action="respond">'
        "Send answer</button></div>"
    )
    if interrupt.restartable:
        body = (
            # Disabled until ticked: what Approve sends is what the fields show.
            '<label><input type="checkbox" class="replace-toggle"> run it with this input instead</label>'
            '<fieldset class="replace" disabled><legend>Input to run it with</legend>'
            f"{render_form_fields(interrupt.input_schema, interrupt.input)}</fieldset>"
            f"{_COMMENT}"
            '<div class="actions"><button type="button" class="approve" data-action="approve">'
            "✓ Approve</button>"
            '<button type="button" class="deny" data-action="deny" aria-haspopup="dialog">'
            "✕ Deny…</button></div>"
            f"<details><summary>or answer with an output instead of running it</summary>{respond}</details>"
        )
    else:
        body = _COMMENT + respond
    return (
        f'<div class="interrupt">{head}<form {common}>{body}<p class="status" role="status"></p></form></div>'
    )


def _not_yours(refused: AnswerProblem, approvers: list[str]) -> str:
    """In place of buttons whose answer the worker would refuse: why, and who may answer."""
    why = (
        "You asked for this run, so someone else must answer it."
        if refused.reason == "self_approval"
        else "You are not among the approvers of this call."
    )
    waiting = ", ".join(approvers)
    who = f" Waiting for: {escape(waiting)}." if waiting else ""
    return f'<p class="not-yours" role="note">{escape(why)}{who}</p>'


def _verdict(state: RunState) -> tuple[str, str] | None:
    """How the people decided a finished run: ("denied", "Denied by Y: why") when any restart
    the worker took was a denial, else ("approved", "Approved by X") when one was an approval."""
    said: dict[str, list[str]] = {"denied": [], "approved": []}
    for event in state.resumes:
        if state.rejection_of(event.resume_id) is not None:
            continue  # the worker refused it: it decided nothing
        for restart in event.restart:
            resumed = restart.resumed if isinstance(restart.resumed, dict) else {}
            who = event.answered_by or "someone"
            if resumed.get("status") == "REJECTED":
                reason = resumed.get("reason")
                said["denied"].append(f"{who}: “{reason}”" if isinstance(reason, str) and reason else who)
            elif resumed.get("status") == "APPROVED":
                said["approved"].append(who)
    for kind in ("denied", "approved"):
        if said[kind]:
            return kind, f"{kind.capitalize()} by {'; '.join(said[kind])}"
    return None


def _ending(state: RunState, status: str, verdict: tuple[str, str] | None = None) -> str:
    result = state.result
    if isinstance(result, RunCompleted):
        kind, said = verdict or ("done", "Completed")
        then = ", then completed" if verdict is not None else ""
        return (
            f'<p class="ending {kind}"><b>{escape(said)}</b>{then} ({escape(result.finish_reason)}): '
            f"{escape(result.text)}</p>"
        )
    if isinstance(result, RunFailed):
        what = f"{status.capitalize()} ({result.code}): {result.message}"
        return f'<p class="rejected">{escape(what)}</p>'
    if state.dead_letters:
        letter = state.dead_letters[-1]
        what = f"A record of this run was dead-lettered ({letter.reason}): {letter.detail}"
        return f'<p class="rejected">{escape(what)}</p>'
    if status == "expired":
        return '<p class="rejected">Expired: the pause is past its deadline; answers are rejected.</p>'
    if status == "running":
        return "<p>Running…</p>"
    return ""


def _history(events: Sequence[Event], messages: Sequence[Message] | None) -> str:
    parts = []
    if messages:
        parts.append('<h4>Messages</h4><ol class="messages">')
        parts.extend(f"<li>{_message(m)}</li>" for m in messages)
        parts.append("</ol>")
    parts.append('<h4>Events</h4><ol class="events">')
    parts.extend(f"<li>{_event(e)}</li>" for e in events)
    parts.append("</ol>")
    return "".join(parts)


def _message(message: Message) -> str:
    shown = []
    for part in message.content:
        if isinstance(part, TextPart):
            shown.append(escape(part.text))
        elif isinstance(part, ToolRequestPart):
            request = part.tool_request
            mark = " (interrupted)" if part.interrupt is not None else ""
            shown.append(f"calls <b>{escape(request.name)}</b>{mark} <pre>{_json(request.input)}</pre>")
        elif isinstance(part, ToolResponsePart):
            response = part.tool_response
            shown.append(f"<b>{escape(response.name)}</b> returned <pre>{_json(response.output)}</pre>")
        else:
            shown.append(f"<pre>{_json(part)}</pre>")
    return f"<b>{escape(message.role)}</b>: " + " ".join(shown)


def _event(event: Event) -> str:
    if isinstance(event, GenerateRequest):
        return f"requested (tools: {escape(', '.join(event.tools) or 'none')})"
    if isinstance(event, InterruptRaised):
        refs = ", ".join(i.ref for i in event.interrupts)
        answered = f", answered {', '.join(event.answered)}" if event.answered else ""
        return f"paused at v{event.snapshot.version} on {escape(refs)}{escape(answered)}"
    if isinstance(event, ResumeRequested):
        answers: list[RespondAnswer | RestartAnswer] = [*event.respond, *event.restart]
        return "; ".join(_answer(event, a) for a in answers)
    if isinstance(event, ResumeRejected):
        return (
            f'<span class="rejected">{escape(f"answer {event.resume_id[:12]} rejected ({event.reason}): ")}'
            f"{escape(event.detail)}</span>"
        )
    if isinstance(event, RunCompleted):
        return "completed"
    return f"failed ({escape(event.code)})"


def _answer(event: ResumeRequested, answer: RespondAnswer | RestartAnswer) -> str:
    """One answer as the approver would say it: approved, denied (with the reason), answered."""
    who = escape(event.answered_by or "someone")
    if isinstance(answer, RespondAnswer):
        said = f"answered by {who}: “{escape(_brief(answer.output))}”"
        note = answer.metadata
    else:
        note = answer.resumed
        verdict = note.get("status") if isinstance(note, dict) else None
        if verdict == "REJECTED":
            said = f'<span class="denied">denied by {who}</span>'
            reason = note.get("reason") if isinstance(note, dict) else None
            if isinstance(reason, str) and reason:
                said += f": “{escape(reason)}”"
        else:
            said = f'<span class="approved">approved by {who}</span>'
            if answer.replaces_input:
                said += f" with input <code>{escape(_brief(answer.replace_input))}</code>"
    comment = note.get("comment") if isinstance(note, dict) else None
    if isinstance(comment, str) and comment:
        said += f' <span class="comment">(comment: “{escape(comment)}”)</span>'
    return f"{said} <small>({escape(answer.ref)})</small>"


def _brief(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(msgspec.to_builtins(value), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
