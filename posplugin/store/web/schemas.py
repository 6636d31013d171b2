"""The store's request and response bodies (its OpenAPI components)."""

from __future__ import annotations

from ...promptkinds import KINDS, LEVELS
from ...tiers.identity import IDENTIFY_TYPES, MAX_LENGTH
from ...tiers.policy import SERVICE_LEVELS, TIERS
from ...web.schemas import TIMESTAMP, SchemaSet, nullable, text
from .. import baseline, prompts, queues, visits

LANE = {"type": ["string", "integer"], "pattern": queues.LANE_PATTERN.pattern,
        "minimum": 0, "maximum": 9999,
        "description": "Lane (till) name or number, e.g. \"3\"."}
LANE_QUERY = {"type": "string", "pattern": LANE["pattern"], "description": LANE["description"]}
BY = text(64, 1) | {"description": "Who does it (a first name or staff id)."}
QUEUE_STATUSES = list(baseline.STATUSES)

SCHEMAS = SchemaSet({
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
            "kind": {"enum": list(KINDS)},
            "level": {"enum": list(LEVELS)},
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
            # kind heard: what a customer posted about this store (never who).
            "about": {"enum": ["queue", "instructions", "staff", "stock", "product", "other"]},
            "tone": {"enum": ["complaint", "praise", "question", "neutral"]},
            "excerpt": {"type": "string"},
            "post_url": {"type": "string"},
            "posted_at": TIMESTAMP,
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
        "properties": {"prompts": {"type": "array", "items": {"$ref": "#/components/schemas/Prompt"}},
                       "count": {"type": "integer", "minimum": 0,
                                 "description": "how many prompts match, also beyond those listed"}},
    },
    "SaleRequest": {
        "type": "object", "required": ["identifier"],
        "properties": {
            "identifier": {"$ref": "#/components/schemas/Identifier"},
            "lane": LANE,
            "display_name": nullable(text(64)),
            "place": nullable(text(64) | {"description": "where the sale was when there is no lane"}),
            "sale_total": {"type": ["number", "null"], "minimum": 0, "maximum": 1e9,
                           "description": "the sale's total in the store's currency, where the POS knows it"},
        },
    },
    "SaleAnswer": {
        "type": "object", "required": ["prompt", "closed"],
        "properties": {
            "prompt": {"anyOf": [{"$ref": "#/components/schemas/Prompt"}, {"type": "null"}],
                       "description": "the after-sale (amplify) prompt for the floor, for an influencer"},
            "closed": {"type": "array", "items": {"$ref": "#/components/schemas/Prompt"},
                       "description": "the customer's service prompts this closed: they left the till"},
        },
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
        "x-error": "must have either length (a reading, with an optional at) or event, not both",
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
    "PainpointRequest": {
        "type": "object", "required": ["kind"],
        "properties": {"kind": {"enum": list(prompts.PAIN_KINDS)}, "lane": LANE,
                       "note": nullable(text(500)), "by": nullable(text(64))},
    },
})
