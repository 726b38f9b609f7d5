"""One way to validate a value, whether its schema is a Python type or a JSON Schema.

Users write pydantic models or plain types (``str``, ``list[str]``); inline interrupts from the
service arrive as JSON Schema documents. Both become a `Schema`, built once per tool.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
import pydantic
import pydantic_core

from .errors import SchemaError


def _json_hook(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", exclude_none=True, by_alias=True)
    try:
        return pydantic_core.to_jsonable_python(value)
    except pydantic_core.PydanticSerializationError as exc:
        raise TypeError(str(exc)) from exc


def _answer_hook(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        # As given: a None that was set is kept (the schema may require it: ``note: str | None``);
        # a default that was never set is left out, as if the field had not been written.
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return _json_hook(value)


def to_json_data(value: Any, what: str = "value") -> Any:
    """``value`` as JSON data (dicts, lists, str, numbers, bools, None), ready to be stored.

    Takes pydantic models, dataclasses, msgspec Structs, enums, dates and anything else msgspec
    or pydantic can serialize; raises SchemaError for what neither can.
    """
    try:
        return _to_builtins(value)  # JSON, dataclasses, Structs, dates...: no hook, the fast path
    except TypeError:
        pass
    try:
        return _to_builtins(value, enc_hook=_json_hook)  # pydantic models and the rest
    except (TypeError, ValueError) as exc:
        raise SchemaError(what, "", f"cannot be stored as JSON ({exc})") from exc


_to_builtins = msgspec.to_builtins


def answer_data(value: Any, what: str) -> Any:
    """An answer as JSON data, as given: like `to_json_data`, but a pydantic model keeps its nulls."""
    try:
        return _to_builtins(value)
    except TypeError:
        pass
    try:
        return _to_builtins(value, enc_hook=_answer_hook)
    except (TypeError, ValueError) as exc:
        raise SchemaError(what, "", f"cannot be stored as JSON ({exc})") from exc


class Schema(Protocol):
    json_schema: dict[str, Any] | None

    def validate(self, value: Any, what: str) -> Any:
        """The value as the tool function sees it; raises SchemaError naming the field."""
        ...

    def dump(self, value: Any) -> Any:
        """The value as JSON-compatible data, for the history."""
        ...

    def check(self, value: Any, what: str) -> Any:
        """An answer (respond output, restart input) as JSON data, checked strictly: a JSON
        value of the wrong type is rejected, never coerced ("5" is not an integer, "no" is not
        a boolean), as the producer's JSON Schema check and Genkit JS do. Once it passes, it is
        returned as given, as Genkit JS stores it: nulls kept, keys the schema does not name
        kept where it allows them, ``10`` not rewritten as ``10.0``."""
        ...


class AnySchema:
    def __init__(self) -> None:
        self.json_schema: dict[str, Any] | None = None

    def validate(self, value: Any, what: str) -> Any:
        return value

    def dump(self, value: Any) -> Any:
        return to_json_data(value)

    def check(self, value: Any, what: str) -> Any:
        return answer_data(value, what)


class TypeSchema:
    """A schema from a Python type, through pydantic."""

    def __init__(self, type_: Any) -> None:
        self._adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(type_)
        self.json_schema: dict[str, Any] | None = self._adapter.json_schema()
        # The adapter's core validator and serializer, called with the adapter's defaults: a tool
        # call validates twice and dumps once, and the adapter's wrappers cost as much as the work.
        # Complete here: json_schema() above fails for a type that is not.
        self._validate_python = self._adapter.validator.validate_python
        self._to_python = self._adapter.serializer.to_python

    def validate(self, value: Any, what: str) -> Any:
        try:
            return self._validate_python(value)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise SchemaError(what, field, first["msg"].lower()) from exc

    def dump(self, value: Any) -> Any:
        return self._to_python(value, mode="json", exclude_none=True, by_alias=True)

    def check(self, value: Any, what: str) -> Any:
        given = answer_data(value, what)
        try:
            # JSON mode: strict about JSON types, while a string still reads as a date or an enum
            # member, as JSON Schema's "format" and "enum" allow.
            self._adapter.validate_json(msgspec.json.encode(given), strict=True)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise SchemaError(what, field, first["msg"].lower()) from exc
        return given


class JsonSchema:
    """A schema given as a JSON Schema document (inline interrupts, published schemas)."""

    def __init__(self, document: dict[str, Any]) -> None:
        # Imported on first use: jsonschema is a tenth of a second of start-up, and only inline
        # interrupts and published schemas need it.
        import jsonschema  # type: ignore[import-untyped, unused-ignore]

        try:
            validator_class = jsonschema.validators.validator_for(document)
            validator_class.check_schema(document)
        except jsonschema.SchemaError as exc:
            raise SchemaError("JSON Schema", ".".join(map(str, exc.path)), exc.message) from exc
        self._validator = validator_class(document)
        self.json_schema: dict[str, Any] | None = document

    def validate(self, value: Any, what: str) -> Any:
        import jsonschema  # type: ignore[import-untyped, unused-ignore]  # loaded by __init__

        error = jsonschema.exceptions.best_match(self._validator.iter_errors(value))
        if error is not None:
            path = [str(p) for p in error.absolute_path]
            if error.validator == "required":
                # The path stops at the object; name the missing property, as pydantic does.
                missing = [p for p in error.validator_value if repr(p) in error.message]
                path += missing[:1]
            raise SchemaError(what, ".".join(path), error.message)
        return value

    def dump(self, value: Any) -> Any:
        return to_json_data(value)

    def check(self, value: Any, what: str) -> Any:
        data = answer_data(value, what)
        self.validate(data, what)
        return data


def schema_of(spec: Any) -> Schema:
    """A Schema from None (anything goes), a JSON Schema dict, or a Python type."""
    if spec is None:
        return AnySchema()
    if isinstance(spec, dict):
        return JsonSchema(spec)
    return TypeSchema(spec)
