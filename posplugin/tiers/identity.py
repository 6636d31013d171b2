"""Identifiers: normalise each written form to one canonical string, then hash it.

Only the keyed hash (HMAC-SHA256 under the chain's identifier key) is ever
stored, logged or sent. The identifier type is part of what is hashed, so a
loyalty id ``123`` and a card token ``123`` are different customers.
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

from ..errors import InvalidIdentifier

TYPES = ("phone", "email", "loyalty_id", "card_token", "handle")
# A till may also send a scanned pass: it is verified (tiers/passes.py), not
# normalised and hashed, and never appears in a tier list.
PASS = "pass"
IDENTIFY_TYPES = TYPES + (PASS,)
MAX_LENGTH = 256


def normalise(id_type: str, value: str, default_region: str = "") -> str:
    """Return the canonical form of ``value``, or raise :class:`InvalidIdentifier`.

    Phones become E.164 (national forms use ``default_region``); emails and
    handles are trimmed and case-folded (handles lose a leading ``@``); loyalty
    ids and card tokens are trimmed only.
    """
    if id_type not in TYPES:
        raise InvalidIdentifier(f"identifier type must be one of {', '.join(TYPES)}",
                                field="identifier.type")
    if not isinstance(value, str):
        raise InvalidIdentifier("identifier value must be a string", field="identifier.value")
    text = value.strip()
    if not text:
        raise InvalidIdentifier("identifier value is empty", field="identifier.value")
    if len(text) > MAX_LENGTH:
        raise InvalidIdentifier(f"identifier value is longer than {MAX_LENGTH} characters",
                                field="identifier.value")
    if id_type == "phone":
        return _phone(text, default_region)
    if id_type == "email":
        return _email(text)
    if id_type == "handle":
        text = text.lstrip("@").strip().casefold()
        if not text or _has_space(text):
            raise InvalidIdentifier("handle must be one word, with or without a leading @",
                                    field="identifier.value")
        return text
    return text


def _phone(text: str, default_region: str) -> str:
    region = default_region.upper() or None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or text.startswith("+") else \
            " (numbers without a country code need default_region set)"
        raise InvalidIdentifier(f"not a phone number: {_reason(exc)}{hint}",
                                field="identifier.value") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier("not a possible phone number for its country",
                                field="identifier.value")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _reason(exc: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown or missing country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "it does not look like a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "cannot be parsed")


def _email(text: str) -> str:
    text = text.casefold()
    local, at, domain = text.rpartition("@")
    # No space nor control character (a NUL, a zero-width joiner) is in any address one can send to.
    if not at or not local or "." not in domain.strip(".") or _has_space(text) or not text.isprintable():
        raise InvalidIdentifier("not an email address", field="identifier.value")
    return text


def _has_space(text: str) -> bool:
    """Whether ``text`` holds any whitespace (str.split() knows every Unicode space, in C)."""
    return len(text.split(None, 1)) != 1 or text != text.strip()


def hash_identifier(key: bytes, id_type: str, normalised: str) -> bytes:
    """HMAC-SHA256 of ``type:normalised`` under ``key``; 32 bytes."""
    return hmac.digest(key, f"{id_type}:{normalised}".encode("utf-8"), "sha256")


class Hasher:
    """Normalise-and-hash with the store's key and phone region bound once.

    The key's inner and outer SHA-256 states are computed once too (what HMAC
    does first with every message), so each identifier costs two hash
    continuations: the same HMAC-SHA256, in a third of the time."""

    def __init__(self, id_key: str, default_region: str = ""):
        self._key = id_key.encode("utf-8")
        self._region = default_region
        key = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, id_type: str, value: str) -> bytes:
        inner = self._inner.copy()
        inner.update(f"{id_type}:{normalise(id_type, value, self._region)}".encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()
