"""A run's W3C trace context as data, so that one run stays one trace across pauses of days.

The same two values travel in Kafka record headers (``traceparent``, ``tracestate``, as the W3C
Trace Context spec names them). They are also kept in our own documents, because a header lives
only as long as its record: the stored pause and the ``InterruptRaised`` an approver may keep for
days carry the context the run paused in, and the answer continues from it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["TRACEPARENT_HEADER", "TRACESTATE_HEADER", "TraceContext"]

TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"


class TraceContext(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    # Lengths from the W3C spec (traceparent is 55 characters in version 00; tracestate holds at
    # most 32 members of 256 characters), with room for a future traceparent version.
    traceparent: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    tracestate: Annotated[str, msgspec.Meta(max_length=8192)] = ""
