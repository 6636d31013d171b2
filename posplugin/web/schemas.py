"""JSON Schemas for request and response bodies.

The same schemas validate requests (``validate``) and make the OpenAPI
document (``posplugin.openapi``), so the two cannot drift apart.
"""

from __future__ import annotations

import json

import jsonschema_rs
from jsonschema import Draft202012Validator

from .. import texts
from ..errors import ValidationError
from ..store import baseline, prompts, queues, visits
from ..tiers.identity import IDENTIFY_TYPES, MAX_LENGTH
from ..tiers.policy import SERVICE_LEVELS, TIERS

# Printable text: no control characters (they have no place on a prompt card).
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f]*$"


def text(max_length: int, min_length: int = 0) -> dict:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": TEXT_PATTERN}


def nullable(schema: dict) -> dict:
    return {**schema, "type": [schema["type"], "null"]} if isinstance(schema.get("type"), str) \
        else {"anyOf": [schema, {"type": "null"}]}


LANE = {"type": ["string", "integer"], "pattern": queues.LANE_PATTERN.pattern,
        "minimum": 0, "maximum": 9999,
        "description": "Lane (till) name or number, e.g. \"3\"."}
BY = text(64, 1) | {"description": "Who does it (a first name or staff id)."}
TIMESTAMP = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                           "message": {"type": "string"},
                           "field": {"type": "string"}}}},
    },
    "Identifier": {
        "type": "object", "required": ["type", "value"],
        "properties": {"type": {"enum": list(IDENTIFY_TYPES),
                                "description": "pass: the text scanned from the QR code on the "
                                               "customer's page (docs/pass.md), verified offline"},
                       "value": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH}},
    },
    "IdentifyRequest": {
        "type": "object", "required": ["lane", "identifier"],
        "properties": {
            "lane": LANE,
            "identifier": {"$ref": "#/components/schemas/Identifier"},
            "stage": {"enum": list(visits.STAGES), "default": "till"},
            "display_name": nullable(text(64)),
            "sale_id": nullable(text(128)),
            "sale_total": {"type": ["number", "null"], "minimum": 0, "maximum": 1e9,
                           "description": "the sale's total in the store's currency, where the POS knows it "
                                          "(measures spend per arm of the holdout experiment)"},
        },
    },
    "Prompt": {
        "type": "object",
        "required": ["id", "kind", "level", "lane", "title", "body", "status", "created_at",
                     "taken_by", "resolved_at"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": list(prompts.KINDS)},
            "level": {"enum": list(prompts.LEVELS)},
            "lane": {"type": ["string", "null"]},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "status": {"enum": list(prompts.STATUSES)},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "taken_by": {"type": ["string", "null"]},
            "taken_at": nullable(TIMESTAMP),
            "resolved_by": {"type": ["string", "null"]},
            "resolved_at": nullable(TIMESTAMP),
            "note": {"type": ["string", "null"]},
            "display_name": {"type": ["string", "null"]},
            "expires_at": nullable(TIMESTAMP),
        },
    },
    "IdentifyResponse": {
        "type": "object",
        "required": ["visit_id", "known", "tier", "service_level", "followers", "engagement_rate",
                     "engaged_reach", "niches", "prompt", "verified", "verify_for"],
        "properties": {
            "visit_id": {"type": "integer"},
            "known": {"type": "boolean"},
            "tier": {"enum": list(TIERS)},
            "service_level": {"enum": list(SERVICE_LEVELS)},
            "followers": {"type": "integer", "minimum": 0},
            "engagement_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "engaged_reach": {"type": "integer", "minimum": 0},
            "niches": {"type": "array", "items": {"type": "string"}},
            "prompt": {"anyOf": [{"$ref": "#/components/schemas/Prompt"}, {"type": "null"}]},
            "verified": {"type": "boolean",
                         "description": "true only when identified by a valid pass"},
            "verify_for": {"enum": [*SERVICE_LEVELS, None],
                           "description": "the level held back (verify_level) until the customer "
                                          "shows their pass; null when nothing is held back"},
        },
    },
    "PromptList": {
        "type": "object", "required": ["prompts"],
        "properties": {"prompts": {"type": "array", "items": {"$ref": "#/components/schemas/Prompt"}}},
    },
    "AckRequest": {
        "type": "object", "required": ["by"], "properties": {"by": BY},
    },
    "ResolveRequest": {
        "type": "object", "required": ["by"],
        "properties": {"by": BY, "note": nullable(text(500))},
    },
    "Health": {
        "type": "object", "required": ["status", "tier_list"],
        "properties": {
            "status": {"enum": ["ok", "degraded"]},
            "warnings": {"type": "array", "items": {"type": "string"},
                         "description": "Each problem an operator must fix, as a sentence "
                                        "(e.g. no tier list loaded, deferred writes failing)."},
            "tier_list": {
                "type": "object", "required": ["version", "rows", "synced_at"],
                "properties": {"version": {"type": ["integer", "null"]},
                               "rows": {"type": "integer"},
                               "synced_at": nullable(TIMESTAMP)}},
        },
    },
}

QUEUE_STATUSES = list(baseline.STATUSES)

# Every figure a store reports is bounded, so no store's report can overflow
# head office's sums (SQLite integers stop at 2**63) or its charts.
COUNT = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
REACH = {"type": "integer", "minimum": 0, "maximum": 10**12}
# Durations may arrive negative from a store whose clock stepped back (one not
# yet clamping them itself): head office accepts them and counts them as 0.
SECONDS = {"type": "number", "minimum": -30 * 24 * 3600, "maximum": 30 * 24 * 3600}
SUM_SECONDS = {"type": "number", "minimum": -10**12, "maximum": 10**12}
FIGURE_KEYS = {"type": "string", "maxLength": 64, "pattern": "^[a-z_]{1,32}(:[a-z_]{1,32})?$"}

SCHEMAS.update({
    "QueueInput": {
        "type": "object", "required": ["lane"],
        "description": "Either a length reading (length, optional at) or an event.",
        "properties": {
            "lane": LANE,
            "length": {"type": "integer", "minimum": 0, "maximum": queues.MAX_LENGTH},
            "at": {"type": "string", "format": "date-time", "maxLength": 64,
                   "description": "When the reading was taken; more than 5 minutes ago is history."},
            "event": {"enum": list(queues.EVENTS)},
        },
        "oneOf": [{"required": ["length"], "not": {"required": ["event"]}},
                  {"required": ["event"], "not": {"anyOf": [{"required": ["length"]},
                                                            {"required": ["at"]}]}}],
        "x-error": "give either length (a reading, with an optional at) or event, not both",
    },
    "QueueAnswer": {
        "type": "object", "required": ["lane", "length", "normal", "status", "wait_s", "prompt"],
        "properties": {
            "lane": {"type": "string"},
            "length": {"type": "integer"},
            "normal": {"type": "number"},
            "status": {"enum": QUEUE_STATUSES},
            "wait_s": {"type": ["integer", "null"]},
            "prompt": {"anyOf": [{"$ref": "#/components/schemas/Prompt"}, {"type": "null"}]},
            "open": {"type": "boolean"},
            "history": {"type": "boolean"},
        },
    },
    "QueuesOverview": {
        "type": "object", "required": ["lanes", "waiting_reach", "recommendation"],
        "properties": {
            "lanes": {"type": "array", "items": {
                "type": "object", "required": ["lane", "open", "length", "normal", "status", "wait_s"],
                "properties": {"lane": {"type": "string"}, "open": {"type": "boolean"},
                               "length": {"type": "integer"}, "normal": {"type": "number"},
                               "status": {"enum": QUEUE_STATUSES}, "wait_s": {"type": "integer"},
                               "waiting_reach": {"type": "integer"},
                               "pain_prompt_id": {"type": ["integer", "null"]},
                               "updated_at": nullable(TIMESTAMP)}}},
            "waiting_reach": {"type": "integer"},
            "recommendation": {"type": "object", "required": ["open_lanes", "reason"],
                               "properties": {"open_lanes": {"type": "integer", "minimum": 0},
                                              "reason": {"type": "string"},
                                              "longest_wait": {"anyOf": [{"type": "null"}, {
                                                  "type": "object", "properties": {
                                                      "lane": {"type": "string"},
                                                      "wait_s": {"type": "integer"}}}]}}},
        },
    },
    "QueuesToday": {
        "type": "object", "required": ["since", "lanes"],
        "properties": {
            "since": TIMESTAMP,
            "lanes": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["points", "normal"],
                "properties": {
                    "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                    "normal": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}}},
        },
    },
    "OutcomeReport": {
        "description": "A batch of a store's hourly outcomes for head office (no identifiers).",
        "type": "object", "required": ["batch", "hours"],
        "properties": {
            "batch": text(128, 1),
            "hours": {"type": "array", "maxItems": 10_000, "items": {
                "type": "object", "required": ["hour"],
                "properties": {
                    "hour": {"type": "string", "format": "date-time"},
                    "made": {"type": "object", "additionalProperties": COUNT, "maxProperties": 64,
                             "propertyNames": FIGURE_KEYS},
                    "taken": COUNT, "resolved": COUNT, "expired": COUNT, "acted": COUNT,
                    "pain_episodes": COUNT,
                    "time_to_act_s": SUM_SECONDS, "pain_seconds": SUM_SECONDS,
                    "times_to_act_s": {"type": "array", "items": SECONDS, "maxItems": 100_000},
                    "pain_durations_s": {"type": "array", "items": SECONDS, "maxItems": 100_000},
                    "reach_served": {"type": "object", "additionalProperties": REACH, "maxProperties": 16,
                                     "propertyNames": FIGURE_KEYS}}}},
            "arms": {"type": "array", "maxItems": 10_000,
                     "description": "the holdout experiment's matured outcomes per arm (counts and sums)",
                     "items": {"type": "object",
                               "required": ["experiment", "level", "arm", "metric", "n", "sum", "sum_sq"],
                               "properties": {"experiment": text(100, 1), "level": {"enum": list(SERVICE_LEVELS)},
                                              "arm": {"enum": ["served", "holdout"]},
                                              "metric": {"enum": ["return_7", "return_30", "accepted",
                                                                  "spend_30"]},
                                              "n": COUNT, "sum": {"type": "number", "minimum": 0, "maximum": 1e15},
                                              "sum_sq": {"type": "number", "minimum": 0, "maximum": 1e30}}}}},
    },
    "ReportAccepted": {
        "type": "object", "required": ["accepted"],
        "properties": {"accepted": {"type": "boolean", "description": "false when the batch was already counted"}},
    },
    "InvitationBatch": {
        "description": "A store's after-sale invitations: each names the customer by keyed hash.",
        "type": "object", "required": ["invitations"],
        "properties": {"invitations": {"type": "array", "maxItems": 5_000, "items": {
            "type": "object", "required": ["ref", "customer", "sold_at"],
            "properties": {"ref": text(64, 1),
                           "customer": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                           "sold_at": {"type": "string", "format": "date-time", "maxLength": 64}}}}},
    },
    "InvitationsReceived": {
        "type": "object", "required": ["received", "kept"],
        "properties": {"received": COUNT, "kept": COUNT},
    },
    "PainpointRequest": {
        "type": "object", "required": ["kind"],
        "properties": {"kind": {"enum": list(prompts.PAIN_KINDS)}, "lane": LANE,
                       "note": nullable(text(500)), "by": nullable(text(64))},
    },
})

_validators: dict[str, Draft202012Validator] = {}
_fast: dict[str, object] = {}


def _resolved(schema: dict) -> dict:
    """Rewrite OpenAPI ``#/components/schemas/X`` refs to local ``$defs`` for validation."""
    if isinstance(schema, dict):
        return {k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _resolved(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolved(v) for v in schema]
    return schema


def _standalone(name: str) -> dict:
    return {**_resolved(SCHEMAS[name]), "$defs": {k: _resolved(v) for k, v in SCHEMAS.items()}}


def validator(name: str) -> Draft202012Validator:
    if name not in _validators:
        _validators[name] = Draft202012Validator(_standalone(name))
    return _validators[name]


def validate(name: str, body) -> dict:
    """Check ``body`` against schema ``name``; raise :class:`ValidationError` naming
    the first offending field."""
    # jsonschema-rs answers "valid?" in under a microsecond, which matters on the
    # till's path; the pure-Python validator only runs to explain a failure.
    fast = _fast.get(name)
    if fast is None:
        fast = _fast[name] = jsonschema_rs.validator_for(_standalone(name))
    if fast.is_valid(body):
        return body
    error = next(iter(sorted(validator(name).iter_errors(body), key=lambda e: list(e.absolute_path))),
                 None)
    if error is None:  # the two validators disagree: trust the stricter one
        raise ValidationError("the body does not match the schema")
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        field = ".".join(path + [missing])
        raise ValidationError(f"{field} is required", field=field)
    field = ".".join(path) or None
    raise ValidationError(f"{field or 'the body'} {_describe(error)}", field=field)


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


LANE_QUERY = {"type": "string", "pattern": LANE["pattern"], "description": LANE["description"]}


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


# -- head office: the customer's side (posplugin.hq.join_web) ----------------

CONSENT_SCOPES = ["tiering", "invitations"]
JOIN_IDENTIFIER = {
    "type": "object", "required": ["type", "value"], "additionalProperties": False,
    "properties": {"type": {"enum": ["phone", "email"]},
                   "value": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH}},
}
LANGUAGE = {"enum": list(texts.LANGUAGES), "default": "en"}

SCHEMAS.update({
    "JoinCodeRequest": {
        "type": "object", "required": ["identifier"], "additionalProperties": False,
        "properties": {"identifier": JOIN_IDENTIFIER, "language": LANGUAGE},
    },
    "JoinCodeSent": {
        "type": "object", "required": ["channel", "to", "expires_in_s", "tries"],
        "properties": {"channel": {"enum": ["sms", "email"]},
                       "to": {"type": "string", "description": "the identifier, masked"},
                       "expires_in_s": COUNT, "tries": COUNT},
    },
    "JoinVerifyRequest": {
        "type": "object", "required": ["identifier", "code"], "additionalProperties": False,
        "properties": {"identifier": JOIN_IDENTIFIER,
                       "code": {"type": "string", "pattern": "^ *[0-9]{6} *$",
                                "description": "the 6-digit code that was sent"}},
    },
    "Consent": {
        "type": "object", "required": ["version", "scopes", "given_at"],
        "properties": {"version": {"type": "string"},
                       "scopes": {"type": "array", "items": {"enum": CONSENT_SCOPES}},
                       "language": {"type": "string"},
                       "given_at": TIMESTAMP, "withdrawn_at": nullable(TIMESTAMP)},
    },
    "ConsentRequest": {
        "type": "object", "required": ["version", "scopes"], "additionalProperties": False,
        "properties": {"version": text(32, 1),
                       "scopes": {"type": "array", "items": {"enum": CONSENT_SCOPES}, "uniqueItems": True,
                                  "maxItems": len(CONSENT_SCOPES)},
                       "language": LANGUAGE},
    },
    "HandleRequest": {
        "type": "object", "required": ["platform", "handle"], "additionalProperties": False,
        "properties": {"platform": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,31}$"},
                       "handle": text(64, 1)},
    },
    "JoinSession": {
        "type": "object", "required": ["signed_in"],
        "properties": {"signed_in": {"type": "boolean"},
                       "id_type": {"enum": ["phone", "email"]},
                       "consent": {"anyOf": [{"$ref": "#/components/schemas/Consent"}, {"type": "null"}]},
                       "accounts": {"type": "array", "items": {"type": "object"}},
                       "platforms": {"type": "array", "items": {"type": "string"}},
                       "csrf": {"type": "string", "description": "echo it as X-CSRF-Token on every change"}},
    },
})
