"""What the inbox's handlers share: the view, the transport to publish on, and its settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from intermission_producer import AnswerKey, Transport
from intermission_schemas import Message, Topics

from ..service.runs.tokens import ResumeTokens
from .identity import Authenticator, FixedIdentity
from .login import OidcLogin
from .view import PendingView, RunState

__all__ = ["History", "Inbox"]

History = Callable[[RunState], Awaitable[list[Message] | None]]
"""A run's messages as stored (the pause's history, or the final one), when a store is at hand."""


@dataclass
class Inbox:
    view: PendingView
    transport: Transport
    topics: Topics
    tools: Collection[str] = ()
    tokens: ResumeTokens | None = None
    # Who calls: every route but the public ones asks it (authn.authentication builds it).
    authenticator: Authenticator = field(default_factory=lambda: FixedIdentity("inbox"))
    login: OidcLogin | None = None  # /login, /callback, /logout when people sign in at an issuer
    history: History | None = None
    signing_key: AnswerKey | None = None  # signs every answer the inbox sends
    reply_topics: tuple[str, ...] = ()  # patterns a request's replyTo must match, as the workers'
    token_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
