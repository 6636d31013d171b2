"""Helpers for adapters that receive vendors' webhooks: signatures and replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from .errors import InvalidIdentifier, Unauthorized, ValidationError
from .tokens import bearer


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
    # Compared as bytes: compare_digest refuses non-ASCII text with a TypeError.
    if not hmac.compare_digest(digest(secret, message).encode(), signature.strip().encode("utf-8", "replace")):
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
    return bearer(request.headers.get("Authorization"))


def lane_map(text: str | None) -> dict[str, str]:
    """``"37338=1, 37339=2"`` (a vendor's line id = our lane) as a dict."""
    pairs = (item.split("=", 1) for item in (text or "").split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def part(payload: dict, key: str) -> dict:
    """``payload[key]`` as an object ({} when absent); a 422 when it is
    something else (a string, a list): a signed payload can still be malformed."""
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{key} must be a JSON object", field=key)
    return value


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


log = logging.getLogger("posplugin.webhooks")
VENDOR_TIMEOUT = (2.0, 3.0)  # connect, read: a vendor's API that stalls is given up on
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def in_background(func, *args) -> None:
    """Run ``func(*args)`` on a small pool of background threads, off the
    webhook's request path (a vendor API call); a failure is logged, never raised."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="posplugin-vendor")

    def run():
        try:
            func(*args)
        except Exception:
            log.exception("a background vendor task failed")
    _pool.submit(run)


def vendor_get(url: str, token: str, *, vendor: str, headers: dict | None = None) -> dict | None:
    """GET a vendor API's JSON object with a bearer token; None (logged) on any
    failure: a timeout, an error status, a body that is not a JSON object."""
    try:
        response = requests.get(url, timeout=VENDOR_TIMEOUT, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})})
        if response.status_code != 200:
            log.warning("%s API answered %s; going on without it", vendor, response.status_code)
            return None
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("%s API unreachable (%s); going on without it", vendor, exc.__class__.__name__)
        return None
    return body if isinstance(body, dict) else None
