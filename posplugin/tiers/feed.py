"""The tier-list feed that head office publishes and stores pull: formats,
Ed25519 signing and verification. docs/feed.md describes it for a chain's own
CRM; nothing here needs `posplugin hq`.

A version is a snapshot file, one customer a line, sorted by hash:
``hash_hex<TAB>followers<TAB>engagement_rate<TAB>niches_json``; and a delta
from the version before: ``+<TAB>`` and a snapshot line for each customer added
or changed, ``-<TAB>hash_hex`` for each removed. The manifest names the
version, its row count, the SHA-256 and size of the snapshot and of each
delta, and an expiry; it is signed as canonical JSON (sorted keys, no spaces).
Optional fields (a manifest without them is as valid as before): ``experiment``
(the running holdout experiment's name) and ``holdout_share`` (0 to 0.5).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import ConfigError
from .holdout import MAX_SHARE

FORMAT = "posplugin-feed/1"
MAX_HOLDOUT_SHARE = MAX_SHARE
MAX_EXPERIMENT_NAME = 100
# Stores say which version they hold when they ask for the manifest, so head
# office can show who is behind.
LIST_VERSION_HEADER = "X-Posplugin-List-Version"


class FeedError(Exception):
    """A manifest or body that must not be applied; the message says why."""


# Names of bodies: a plain file name in the feed folder, never a path.
BODY_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.tsv$"
MAX_NICHES = 20
MAX_NICHE = 64
_BODY = {"type": "object", "required": ["path", "sha256", "bytes"],
         "properties": {"path": {"type": "string", "pattern": BODY_NAME},
                        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "bytes": {"type": "integer", "minimum": 0, "maximum": 1 << 42}}}
VERSION = {"type": "integer", "minimum": 0, "maximum": 1 << 53}
# The whole manifest is checked before anything in it is acted on: a chain's
# own CRM may publish it, and a stolen key must not buy a path outside the
# data folder or a version that breaks every later sync. Fields not named here
# are ignored, so head office can add some without breaking older stores.
MANIFEST_SCHEMA = {
    "type": "object", "required": ["format", "version", "expires_at"],
    "dependentRequired": {"snapshot": ["rows"]},
    "properties": {
        "format": {"const": FORMAT},
        "version": VERSION,
        "created_at": {"type": "number"},
        "expires_at": {"type": "number"},
        "rows": {"type": "integer", "minimum": 0, "maximum": 10_000_000_000},
        "base_url": {"type": "string", "maxLength": 2048, "pattern": "^https?://"},
        "snapshot": {"anyOf": [{"type": "null"}, _BODY]},
        "deltas": {"type": "array", "maxItems": 1_000, "items": {
            **_BODY, "required": ["from", "to", "path", "sha256", "bytes"],
            "properties": {**_BODY["properties"], "from": VERSION, "to": VERSION}}},
    },
}
_manifest_validator = Draft202012Validator(MANIFEST_SCHEMA)


def check_manifest(manifest) -> dict:
    """``manifest`` if it matches :data:`MANIFEST_SCHEMA`; raises :class:`FeedError`
    naming the first field that does not."""
    error = best_match(_manifest_validator.iter_errors(manifest))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the manifest"
        raise FeedError(f"{where}: {error.message[:160]}")
    return manifest


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at ``path``, made (readable by its owner only) on first use."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError([f"{path} is not a readable Ed25519 signing key ({str(exc)[:80]}): restore "
                               "it from a backup. Only with no backup, move it aside to make a new "
                               "one, and give every store the new key (posplugin hq public-key)"]) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError([f"{path} is not an Ed25519 key: restore head office's signing key"])
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public key as stores configure it (``hq_public_key``): base64 of the raw 32 bytes."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(manifest: dict, key: Ed25519PrivateKey) -> dict:
    """``{"manifest": ..., "signature": base64}``."""
    return {"manifest": manifest, "signature": base64.b64encode(key.sign(canonical(manifest))).decode()}


def verify(signed: dict, public_key: str, *, now: float, current_version: int | None) -> dict:
    """The manifest of ``signed`` if its signature, format, expiry and version
    all hold; raises :class:`FeedError` saying which does not."""
    try:
        manifest, signature = signed["manifest"], base64.b64decode(signed["signature"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FeedError(f"unreadable manifest or public key ({exc.__class__.__name__})") from None
    try:
        key.verify(signature, canonical(manifest))
    except InvalidSignature:
        raise FeedError("manifest signature does not verify against hq_public_key") from None
    if not isinstance(manifest, dict):
        raise FeedError("the manifest must be a JSON object")
    if manifest.get("format") != FORMAT:
        raise FeedError(f"unknown feed format {manifest.get('format')!r}")
    if not isinstance(manifest.get("expires_at"), (int, float)) or manifest["expires_at"] <= now:
        raise FeedError("manifest has expired: head office must re-sign it (stale or replayed)")
    _check_experiment(manifest)
    check_manifest(manifest)
    if current_version is not None and manifest["version"] < current_version:
        raise FeedError(f"manifest version {manifest['version']} is older than the list in use "
                        f"({current_version}): refusing a rollback")
    return manifest


def _check_experiment(manifest: dict) -> None:
    name, share = manifest.get("experiment"), manifest.get("holdout_share")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_EXPERIMENT_NAME):
        raise FeedError(f"experiment must be a name of at most {MAX_EXPERIMENT_NAME} characters")
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                              or not 0 <= share <= MAX_HOLDOUT_SHARE):
        raise FeedError(f"holdout_share must be a number from 0 to {MAX_HOLDOUT_SHARE}")


def snapshot_line(key: bytes, followers: int, engagement_rate: float, niches: str) -> str:
    return f"{key.hex()}\t{followers}\t{engagement_rate!r}\t{niches}\n"


def parse_snapshot_line(line: str) -> tuple[bytes, int, float, tuple[str, ...]]:
    """One snapshot line; raises :class:`FeedError` when it is malformed."""
    try:
        hash_hex, followers, rate, niches = line.rstrip("\n").split("\t")
        key = bytes.fromhex(hash_hex)
        words = json.loads(niches)
        if not isinstance(words, list):
            raise TypeError("niches must be a list")
        values = (key, int(followers), float(rate), tuple(words))
    except (ValueError, TypeError) as exc:
        raise FeedError(f"malformed snapshot line ({exc.__class__.__name__})") from None
    if len(key) != 32 or not 0 <= values[1] <= 10_000_000_000 or not 0 <= values[2] <= 1:
        raise FeedError("snapshot line out of range")
    niches = values[3]
    if len(niches) > MAX_NICHES or not all(isinstance(n, str) and len(n) <= MAX_NICHE for n in niches):
        raise FeedError(f"snapshot line's niches must be at most {MAX_NICHES} words of text")
    return values


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):  # no mutate: a read size, not a result
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def snapshot_key(line: str) -> str:
    return line[:64]  # no mutate: the hex hash; one more is the tab after it, the same order


def write_delta(old: IO[str], new: IO[str], out: IO[str]) -> tuple[int, int]:
    """Write the delta that turns snapshot ``old`` into snapshot ``new`` (both
    sorted by hash) to ``out``; returns (upserts, deletes). One pass over each,
    so a list of any size costs no memory."""
    upserts = deletes = 0
    old_line, new_line = old.readline(), new.readline()
    while old_line or new_line:
        old_key = snapshot_key(old_line) if old_line else None
        new_key = snapshot_key(new_line) if new_line else None
        if new_key is not None and (old_key is None or new_key < old_key):
            out.write("+\t" + new_line)
            upserts += 1
            new_line = new.readline()
        elif old_key is not None and (new_key is None or old_key < new_key):
            out.write(f"-\t{old_key}\n")
            deletes += 1
            old_line = old.readline()
        else:
            if old_line != new_line:
                out.write("+\t" + new_line)
                upserts += 1
            old_line, new_line = old.readline(), new.readline()
    return upserts, deletes


def parse_delta_line(line: str) -> tuple[bytes, tuple[int, float, tuple[str, ...]] | None]:
    """``(hash, (followers, rate, niches))`` for an upsert, ``(hash, None)`` for
    a delete; raises :class:`FeedError` when the line is malformed."""
    if line.startswith("+\t"):
        key, followers, rate, niches = parse_snapshot_line(line[2:])
        return key, (followers, rate, niches)
    if line.startswith("-\t"):
        try:
            key = bytes.fromhex(line[2:].rstrip("\n"))
        except ValueError:
            key = b""
        if len(key) != 32:
            raise FeedError("malformed delta line (a delete needs a 64-character hash)")
        return key, None
    raise FeedError("malformed delta line (neither + nor -)")


def delta_chain(manifest: dict, current: int | None) -> list[dict] | None:
    """The deltas that take a store from version ``current`` to the manifest's,
    in order, or None when there is no unbroken chain."""
    if current is None:
        return None
    by_from = {d.get("from"): d for d in manifest.get("deltas") or ()}
    chain, at = [], current
    while at != manifest["version"]:
        step = by_from.get(at)
        if step is None or step.get("to", 0) <= at:
            return None
        chain.append(step)
        at = step["to"]
    return chain
