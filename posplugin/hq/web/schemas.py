"""Head office's request and response bodies (its OpenAPI components): what
stores send (outcome reports, after-sale invitations) and the customer's side
(/join, /me)."""

from __future__ import annotations

from ... import texts
from ...tiers.identity import MAX_LENGTH
from ...tiers.policy import SERVICE_LEVELS
from ...web.schemas import COUNT, TIMESTAMP, SchemaSet, nullable, text
from ..reports import MAX_REACH, PROMPT_KINDS, PROMPT_LEVELS

REACH = {"type": "integer", "minimum": 0, "maximum": MAX_REACH * 1_000_000}
# Durations may arrive negative from a store whose clock stepped back (one not
# yet clamping them itself): head office accepts them and counts them as 0.
SECONDS = {"type": "number", "minimum": -30 * 24 * 3600, "maximum": 30 * 24 * 3600}
SUM_SECONDS = {"type": "number", "minimum": -10**12, "maximum": 10**12}
# A store's batch id: its own letters, digits and separators (never free text).
BATCH_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]*$"
MADE_KEYS = [f"{kind}:{level}" for kind in PROMPT_KINDS for level in PROMPT_LEVELS]

CONSENT_SCOPES = ["tiering", "invitations", "listening"]
JOIN_IDENTIFIER = {
    "type": "object", "required": ["type", "value"], "additionalProperties": False,
    "properties": {"type": {"enum": ["phone", "email"]},
                   "value": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH}},
}
LANGUAGE = {"enum": list(texts.LANGUAGES), "default": "en"}

ABOUT = {"enum": ["queue", "instructions", "staff", "stock", "product", "other"]}
TONE = {"enum": ["complaint", "praise", "question", "neutral"]}
EPOCH = {"type": "number", "minimum": 0, "maximum": 1e11}

SCHEMAS = SchemaSet({
    "HeardPost": {
        "description": "A post from any source (a chain's social-care tool, say), in the shape every "
                       "listening source delivers. Kept only if it is addressed to the chain (its text names "
                       "chain_handles, or addressed is true) or is a consented customer's own.",
        "type": "object", "required": ["source", "id", "text", "at"], "additionalProperties": False,
        "properties": {"source": {"type": "string", "pattern": "^[a-z][a-z0-9_:.-]{0,31}$"},
                       "id": text(300, 1), "url": {"type": "string", "maxLength": 2000},
                       "text": {"type": "string", "minLength": 1, "maxLength": 5000},
                       "at": {"type": "string", "format": "date-time", "maxLength": 64},
                       "author": {"type": "string", "maxLength": 200,
                                  "description": "used only to find a consented customer; never stored"},
                       "store": {"type": "string", "maxLength": 200},
                       "language": {"type": "string", "maxLength": 16},
                       "location": {"type": "string", "maxLength": 64},
                       "addressed": {"type": "boolean", "description": "the source found it addressed to the chain"}},
    },
    "HeardAnswer": {
        "type": "object", "required": ["kept"],
        "properties": {"kept": {"type": "boolean", "description": "false: dropped at once, never stored"},
                       "heard": {"anyOf": [{"type": "object"}, {"type": "null"}]}},
    },
    "HeardReply": {
        "type": "object", "required": ["by"], "additionalProperties": False,
        "properties": {"by": text(100, 1)},
    },
    "HeardFloorReport": {
        "description": "A store's heard prompts (made, taken, resolved: epoch seconds) and the visits of "
                       "customers who consented to listening (keyed hash and time, nothing else).",
        "type": "object", "additionalProperties": False,
        "properties": {
            "updates": {"type": "array", "maxItems": 1000, "items": {
                "type": "object", "required": ["id"], "additionalProperties": False,
                "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 2**62},
                               "prompt_at": EPOCH, "taken_at": EPOCH, "resolved_at": EPOCH}}},
            "visits": {"type": "array", "maxItems": 5000, "items": {
                "type": "object", "required": ["customer", "at"], "additionalProperties": False,
                "properties": {"customer": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "at": EPOCH}}}},
    },
    "OutcomeReport": {
        "description": "A batch of a store's hourly outcomes for head office (no identifiers). Unknown fields "
                       "are refused; figures that contradict each other or the store's earlier batches, and "
                       "hours outside the last 366 days (or more than a day ahead), are refused whole.",
        "type": "object", "required": ["batch", "hours"], "additionalProperties": False,
        "properties": {
            "batch": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": BATCH_PATTERN,
                      "description": "the store's id of this batch: a resend carries the same one"},
            "hours": {"type": "array", "maxItems": 10_000, "items": {
                "type": "object", "required": ["hour"], "additionalProperties": False,
                "properties": {
                    "hour": {"type": "string", "format": "date-time", "maxLength": 64},
                    "made": {"type": "object", "additionalProperties": COUNT, "maxProperties": 64,
                             "propertyNames": {"enum": MADE_KEYS}},
                    "taken": COUNT, "resolved": COUNT, "expired": COUNT, "acted": COUNT,
                    "pain_episodes": COUNT,
                    "time_to_act_s": SUM_SECONDS, "pain_seconds": SUM_SECONDS,
                    "times_to_act_s": {"type": "array", "items": SECONDS, "maxItems": 100_000},
                    "pain_durations_s": {"type": "array", "items": SECONDS, "maxItems": 100_000},
                    "reach_served": {"type": "object", "additionalProperties": REACH, "maxProperties": 16,
                                     "propertyNames": {"enum": list(PROMPT_LEVELS)}}}}},
            "arms": {"type": "array", "maxItems": 10_000,
                     "description": "the holdout experiment's matured outcomes per arm (counts and sums)",
                     "items": {"type": "object", "additionalProperties": False,
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
    "BlueskyLinkRequest": {
        "type": "object", "required": ["handle"], "additionalProperties": False,
        "properties": {"handle": text(253, 1)},
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
