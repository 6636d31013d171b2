"""Helpers for adapters that receive vendors' webhooks: signatures and replays."""

from __future__ import annotations

import base64
import hashlib
import hmac

from .errors import InvalidIdentifier, Unauthorized, ValidationError
from .store import auth


def hmac_sha256_base64(secret: str, message: bytes) -> str:
    """Base64 of HMAC-SHA256(secret, message), the form Square and Shopify send."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode()


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """Hex HMAC-SHA256(secret, message), the form Qminder sends."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def require_signature(secret: str | None, message: bytes, signature: str | None, *, vendor: str,
                      digest=hmac_sha256_base64) -> None:
    """Raise :class:`Unauthorized` unless ``signature`` is right for ``message``.
    An adapter without its secret configured refuses everything."""
    if not secret:
        raise Unauthorized(f"the {vendor} adapter has no signing secret configured; nothing accepted")
    if not signature:
        raise Unauthorized(f"missing {vendor} signature")
    if not hmac.compare_digest(digest(secret, message), signature.strip()):
        raise Unauthorized(f"bad {vendor} signature")


def require_secret(secret: str | None, given: str | None, *, vendor: str, what: str = "secret") -> None:
    """Raise :class:`Unauthorized` unless ``given`` is the shared ``secret``
    (for senders that sign nothing and can only carry a token: a query
    parameter in a registered URL, or a bearer token). Compared in constant
    time; an adapter without its secret configured refuses everything."""
    if not secret:
        raise Unauthorized(f"the {vendor} adapter has no {what} configured; nothing accepted")
    if not given:
        raise Unauthorized(f"missing {vendor} {what}")
    if not hmac.compare_digest(secret.encode("utf-8"), given.strip().encode("utf-8")):
        raise Unauthorized(f"bad {vendor} {what}")


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    return auth.bearer(request.headers.get("Authorization"))


def lane_map(text: str | None) -> dict[str, str]:
    """``"37338=1, 37339=2"`` (a vendor's line id = our lane) as a dict."""
    pairs = (item.split("=", 1) for item in (text or "").split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def json_payload(request) -> dict:
    """The request's JSON object, or a 422 that says it is not one."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationError("the webhook body must be a JSON object")
    return payload


def identify_waiting(store, lane: str, phone: str, display_name: str | None = None) -> bool:
    """Identify a queue ticket's phone number with ``"stage": "queue"`` (the
    customer's reach counts as waiting); whether they are known. A number that
    does not parse is simply not known: a queue system's data must not fail
    its webhook."""
    try:
        return store.identify(lane, "phone", phone, stage="queue", display_name=display_name).known
    except InvalidIdentifier:
        return False
