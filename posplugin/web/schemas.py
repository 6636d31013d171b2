"""JSON Schemas for request and response bodies, and the building blocks both
services' schemas are made of.

Each service declares its bodies once in a :class:`SchemaSet` (the store's in
``posplugin.store.web.schemas``, head office's in ``posplugin.hq.web.schemas``).
The same set validates requests and makes the OpenAPI document, so the two
cannot drift apart.
"""

from __future__ import annotations

import json

import jsonschema_rs

from ..errors import ValidationError

# Printable text: no control characters (they have no place on a prompt card).
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
TIMESTAMP = {"type": "string", "format": "date-time"}
# Every figure a store reports is bounded, so no store's report can overflow
# head office's sums (SQLite integers stop at 2**63) or its charts.
COUNT = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                       "message": {"type": "string"},
                       "field": {"type": "string"}}}},
}


def text(max_length: int, min_length: int = 0) -> dict:
    """A printable string of ``min_length`` to ``max_length`` characters."""
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": TEXT_PATTERN}


def nullable(schema: dict) -> dict:
    """``schema`` or null."""
    return {**schema, "type": [schema["type"], "null"]} if isinstance(schema.get("type"), str) \
        else {"anyOf": [schema, {"type": "null"}]}


class SchemaSet(dict):
    """A service's named schemas (``{"Prompt": {...}}``, the error shape
    included), with validators compiled once per name."""

    def __init__(self, schemas: dict[str, dict]):
        super().__init__({"Error": ERROR, **schemas})
        self._fast: dict[str, object] = {}
        self._explain: dict[str, object] = {}

    def validate(self, name: str, body) -> dict:
        """Check ``body`` against schema ``name``; raise :class:`ValidationError`
        naming the first offending field."""
        # jsonschema-rs answers "valid?" in under a microsecond, which matters on the
        # till's path; the pure-Python validator only runs to explain a failure.
        fast = self._fast.get(name)
        if fast is None:
            fast = self._fast[name] = jsonschema_rs.validator_for(self._standalone(name))
        if fast.is_valid(body):
            return body
        raise _first_problem(self._explainer(name), body)

    def _explainer(self, name: str):
        # The pure-Python validator (and its 5 MB of imports) only once a body fails.
        from jsonschema import Draft202012Validator

        if name not in self._explain:
            self._explain[name] = Draft202012Validator(self._standalone(name))
        return self._explain[name]

    def _standalone(self, name: str) -> dict:
        """Schema ``name`` with OpenAPI's ``#/components/schemas/X`` refs as local ``$defs``."""
        return {**_resolved(self[name]), "$defs": {k: _resolved(v) for k, v in self.items()}}


def _resolved(schema):
    if isinstance(schema, dict):
        return {k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _resolved(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolved(v) for v in schema]
    return schema


def _first_problem(validator, body) -> ValidationError:
    error = next(iter(sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    if error is None:  # the two validators disagree: trust the stricter one
        return ValidationError("the body does not match the schema")
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        field = ".".join(path + [missing])
        return ValidationError(f"{field} is required", field=field)
    field = ".".join(path) or None
    return ValidationError(f"{field or 'the body'} {_describe(error)}", field=field)


_value_validators: dict[str, object] = {}


def check_value(schema: dict, value) -> bool:
    """Whether ``value`` satisfies a small inline ``schema`` (query parameters)."""
    key = json.dumps(schema, sort_keys=True)
    fast = _value_validators.get(key)
    if fast is None:
        fast = _value_validators[key] = jsonschema_rs.validator_for(schema)
    return fast.is_valid(value)


def describe_value(schema: dict) -> str:
    """What a value must be, in words, for a small inline schema."""
    if "enum" in schema:
        return "must be one of " + ", ".join(map(str, schema["enum"]))
    return "is not valid here"


def _describe(error) -> str:
    schema = error.schema
    kind = error.validator
    if kind == "type":
        wanted = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return "must be " + " or ".join("an object" if t == "object" else f"a {t}" for t in wanted)
    if kind == "enum":
        return "must be one of " + ", ".join(map(str, schema["enum"]))
    if kind == "maxLength":
        return f"must be at most {schema['maxLength']} characters"
    if kind == "minLength":
        return "must not be empty" if schema["minLength"] == 1 else \
            f"must be at least {schema['minLength']} characters"
    if kind == "pattern":
        return "contains characters that are not allowed here"
    if kind in ("minimum", "maximum"):
        return f"must be between {schema.get('minimum', '-∞')} and {schema.get('maximum', '∞')}"
    if kind in ("anyOf", "oneOf"):
        return schema.get("x-error", "has the wrong shape")
    return "is not valid"
