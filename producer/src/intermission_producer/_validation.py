"""JSON Schema checks for answers, with one compiled validator per distinct schema.

An approval system checks many answers against few schemas (one per interrupt kind), so a
validator is compiled once and found again by the schema's canonical JSON bytes: equal schemas
share a validator however their keys are ordered, and the cache holds bytes, not live dicts
that a caller could mutate after the fact.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import msgspec

__all__ = ["schema_problem"]

_log = logging.getLogger("intermission_producer")

# Enough for every interrupt kind of a large deployment; bounded so a stream of ad-hoc inline
# schemas cannot grow the cache forever.
_CACHE_SIZE = 512

_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(dict[str, Any])


class _Validator:
    """Checks values against one schema; ``None`` validator means the schema is unusable."""

    def __init__(self, schema: dict[str, Any]) -> None:
        # Imported on first use: a tenth of a second of start-up for code that never checks.
        import jsonschema  # type: ignore[import-untyped, unused-ignore]

        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            # The worker published a schema jsonschema cannot use. Blocking the answer here
            # would make the interrupt unanswerable from this SDK; the service stays the
            # authority and answers ResumeRejected if it disagrees.
            _log.warning("skipping local validation: the published schema is invalid: %s", exc.message)
            self._validator: Any = None
        else:
            # No format checker, like the service (consumer/_schema.py): "format" stays an
            # annotation, so local and remote validation accept the same values.
            self._validator = cls(schema)

    def problem(self, value: Any) -> tuple[str, str] | None:
        """``(field, message)`` of the most relevant error, or None if the value is valid."""
        if self._validator is None:
            return None
        import jsonschema  # type: ignore[import-untyped, unused-ignore]  # loaded by __init__

        error = jsonschema.exceptions.best_match(self._validator.iter_errors(value))
        if error is None:
            return None
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required":
            # The error sits on the object; name the missing property, as the service does.
            missing = [p for p in error.validator_value if repr(p) in error.message]
            path += missing[:1]
        return ".".join(path), str(error.message)


@lru_cache(maxsize=_CACHE_SIZE)
def _compiled(key: bytes) -> _Validator:
    return _Validator(_decoder.decode(key))


def schema_problem(schema: dict[str, Any] | None, value: Any) -> tuple[str, str] | None:
    """Why ``value`` does not satisfy ``schema`` as ``(dotted field, message)``; None if it does.

    ``field`` is "" when the value as a whole is wrong. No schema means anything goes.
    """
    if schema is None:
        return None
    return _compiled(_encoder.encode(schema)).problem(value)
