"""The customer's pass: a short-lived token signed by head office that a till
scans and a store verifies offline (docs/pass.md describes it for anyone who
writes a scanner integration or issues passes from their own CRM).

Layout (106 bytes before text encoding, big-endian integers)::

    chain      4  first 4 bytes of SHA-256 of head office's raw public key
    issued_at  4  Unix seconds
    lifetime   2  seconds the pass is good for after issued_at
    customer  32  the customer's keyed identifier hash (as in the tier list)
    signature 64  Ed25519 over CONTEXT + the 42 bytes above

Text: ``PP1:`` + the 106 bytes in RFC 4648 base32 without padding (174
characters, all in a QR code's alphanumeric set, and safe to type through a
keyboard-wedge scanner whatever the keyboard layout). Signed with the key
stores already verify tier lists with; the context string keeps a pass
signature from ever being mistaken for a manifest's (those sign JSON).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..errors import PassRefused

PREFIX = "PP1:"
CONTEXT = b"posplugin-pass/1\x00"
_BODY = struct.Struct(">4sIH32s")
SIGNATURE_BYTES = 64
RAW_BYTES = _BODY.size + SIGNATURE_BYTES
TEXT_LENGTH = len(PREFIX) + -(-RAW_BYTES * 8 // 5)
# Head office issues passes good for a few minutes; a store refuses any that
# claims longer, and allows this much difference between its clock and head
# office's before calling a pass "not yet valid".
LIFETIME_S = 300
MAX_LIFETIME_S = 900
CLOCK_SKEW_S = 120
FIELD = "identifier.value"


@dataclass(frozen=True)
class Pass:
    customer: bytes
    issued_at: int
    expires_at: int


def chain_id(public_key: Ed25519PublicKey) -> bytes:
    """The 4 bytes that name a chain in its passes: its public key's fingerprint."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:4]


def issue(key: Ed25519PrivateKey, customer: bytes, *, now: float, lifetime_s: int = LIFETIME_S) -> str:
    """A pass for ``customer`` (a 32-byte keyed identifier hash), as text for a QR code."""
    if len(customer) != 32:
        raise ValueError("customer must be a 32-byte keyed identifier hash")
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"lifetime_s must be 1 to {MAX_LIFETIME_S}")
    body = _BODY.pack(chain_id(key.public_key()), int(now), lifetime_s, customer)
    raw = body + key.sign(CONTEXT + body)
    return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")


class PassVerifier:
    """Verifies scanned passes against head office's public key (``hq_public_key``)."""

    def __init__(self, public_key: str):
        """``public_key``: base64 of the raw 32-byte Ed25519 key; ValueError if it is not one."""
        try:
            self._key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise ValueError("hq_public_key is not a base64 Ed25519 public key") from None
        self.chain = chain_id(self._key)

    def verify(self, text: str, *, now: float) -> Pass:
        """The pass in ``text`` (as scanned); raises :class:`PassRefused` saying
        why it cannot be trusted: unreadable, another chain's, forged, expired."""
        raw = _decode(text)
        body, signature = raw[:_BODY.size], raw[_BODY.size:]
        chain, issued_at, lifetime, customer = _BODY.unpack(body)
        if chain != self.chain:
            raise PassRefused("this pass was issued by another chain's head office",
                              code="pass_other_chain", field=FIELD)
        try:
            self._key.verify(signature, CONTEXT + body)
        except InvalidSignature:
            raise PassRefused("this pass is not signed by head office: it may be forged or altered",
                              code="pass_forged", field=FIELD) from None
        if not 0 < lifetime <= MAX_LIFETIME_S:
            raise PassRefused(f"this pass claims a lifetime over {MAX_LIFETIME_S} s",
                              code="pass_invalid", field=FIELD)
        expires_at = issued_at + lifetime
        if now >= expires_at:
            ago = _ago(now - expires_at)
            raise PassRefused(f"this pass expired {ago} ago (a screenshot or an old code): ask the "
                              "customer to open their page again for a fresh one",
                              code="pass_expired", field=FIELD)
        if issued_at > now + CLOCK_SKEW_S:
            raise PassRefused("this pass is dated in the future: check this store's clock",
                              code="pass_not_yet_valid", field=FIELD)
        return Pass(customer, issued_at, expires_at)


def _decode(text) -> bytes:
    """The raw bytes of a scanned pass, or :class:`PassRefused`. Scanners may
    add whitespace or change the letters' case; both are forgiven."""
    if not isinstance(text, str):
        raise PassRefused("a pass must be text", code="pass_unreadable", field=FIELD)
    text = "".join(text.split()).upper()
    if not text.startswith(PREFIX):
        raise PassRefused(f"not a posplugin pass (it should start with {PREFIX})",
                          code="pass_unreadable", field=FIELD)
    if len(text) != TEXT_LENGTH:
        raise PassRefused(f"a pass is {TEXT_LENGTH} characters; this is {len(text)} "
                          "(a partial scan?)", code="pass_unreadable", field=FIELD)
    data = text[len(PREFIX):]
    try:
        raw = base64.b32decode(data + "=" * (-len(data) % 8))
    except (binascii.Error, ValueError):
        raise PassRefused("a pass holds only the letters A-Z and digits 2-7 after its prefix",
                          code="pass_unreadable", field=FIELD) from None
    if len(raw) != RAW_BYTES:
        raise PassRefused("a pass has the wrong length once decoded", code="pass_unreadable",
                          field=FIELD)
    return raw


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} minutes"
    return f"{int(seconds // 3600)} hours"
