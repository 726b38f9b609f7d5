"""Which ref names a tool request, when the model sent it without one.

Genkit matches an answer to its request by name plus ``ref``, and a model may leave ``ref`` out
(Genkit JS then matches ``undefined`` with ``undefined``). Intermission's events, answers and
inbox name an interrupt by its ref alone, so a request the model sent without one (or with a ref
an earlier request of the same turn already has) is named ``{name}-{position}-{index}``: its
message's position in the history and its own in the message. The name is derived, never written
into the history, which keeps the request exactly as the model sent it; releases before 0.4
wrote that same name into the request, so their stored pauses resolve to the refs they hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ._messages import Marker, Message, ToolRequestPart


def tool_request_refs(message: Message, position: int) -> dict[int, str]:
    """The ref of every tool request in ``message`` (at ``position`` in its history), by the
    request's index in ``message.content``; unique within the message."""
    content = message.content
    if len(content) == 1:
        # One part, the usual turn that calls one tool: nothing to collide with.
        part = content[0]
        if not isinstance(part, ToolRequestPart):
            return {}
        request = part.tool_request
        return {0: request.ref or f"{request.name}-{position}-0"}
    # Refs the model chose; a derived ref must not take one a later request already has.
    given = {p.tool_request.ref for p in message.tool_requests if p.tool_request.ref}
    seen: set[str] = set()
    refs: dict[int, str] = {}
    for index, part in enumerate(content):
        if not isinstance(part, ToolRequestPart):
            continue
        ref = part.tool_request.ref
        if not ref or ref in seen:
            base = ref = f"{part.tool_request.name}-{position}-{index}"
            suffix = 1
            while ref in seen or ref in given:
                ref, suffix = f"{base}-{suffix}", suffix + 1
        seen.add(ref)
        refs[index] = ref
    return refs


def with_ref(part: ToolRequestPart, ref: str) -> ToolRequestPart:
    """``part`` as the service names it: its request carrying ``ref``."""
    if part.tool_request.ref == ref:
        return part
    return ToolRequestPart(msgspec.structs.replace(part.tool_request, ref=ref), metadata=part.metadata)


def pending_interrupts(messages: Sequence[Message]) -> list[ToolRequestPart]:
    """The interrupts a history waits on, in order, each carrying its ref (see `tool_request_refs`).

    Empty unless the history ends in a model message with an interrupted tool request.
    """
    last = messages[-1] if messages else None
    if last is None or last.role != "model":
        return []
    refs = tool_request_refs(last, len(messages) - 1)
    return [
        with_ref(part, refs[index])
        for index, part in enumerate(last.content)
        # ToolRequestPart.is_interrupted, without a property call per part
        if isinstance(part, ToolRequestPart) and part.metadata and Marker.INTERRUPT in part.metadata
    ]
