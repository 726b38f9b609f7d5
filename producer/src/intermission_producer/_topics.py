"""Topic names, one field per topic of the contract."""

from __future__ import annotations

import msgspec
from intermission_schemas import DEFAULT_TOPICS


class Topics(msgspec.Struct, frozen=True, kw_only=True):
    """Where each kind of event goes. Defaults are the contract's (``DEFAULT_TOPICS``)."""

    requests: str = DEFAULT_TOPICS["requests"]
    approvals: str = DEFAULT_TOPICS["approvals"]
    resumes: str = DEFAULT_TOPICS["resumes"]
    results: str = DEFAULT_TOPICS["results"]
    dead_letter: str = DEFAULT_TOPICS["dead_letter"]

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        """The default names behind a prefix, e.g. one set of topics per tenant or per test."""
        defaults = cls()
        return cls(**{name: prefix + getattr(defaults, name) for name in cls.__struct_fields__})
