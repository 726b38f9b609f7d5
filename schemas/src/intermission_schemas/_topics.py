"""Where each kind of event goes: the one definition of Intermission's topic names."""

from __future__ import annotations

import msgspec

__all__ = ["Topics"]


class Topics(msgspec.Struct, frozen=True, kw_only=True):
    """The five topics of the contract. Every component (workers, the producer SDK, the CLI,
    the AsyncAPI document) takes its names from one of these."""

    requests: str = "intermission.requests"
    approvals: str = "intermission.approvals"
    resumes: str = "intermission.resumes"
    results: str = "intermission.results"
    dead_letter: str = "intermission.dead-letter"

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        """The default names behind a prefix, e.g. one set of topics per tenant or per test."""
        defaults = cls()
        return cls(**{name: prefix + getattr(defaults, name) for name in cls.__struct_fields__})

    def as_dict(self) -> dict[str, str]:
        """Role -> topic name, in the contract's order."""
        return {name: getattr(self, name) for name in self.__struct_fields__}

    def all(self) -> list[str]:
        return list(self.as_dict().values())
