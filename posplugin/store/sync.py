"""The store's side of head office: pull the signed tier list, verify it, apply it.

Everything is checked before anything is applied: the manifest's Ed25519
signature against ``hq_public_key``, its format, its expiry (a stale or
replayed manifest is refused) and its version (no rollback); the snapshot is
streamed to a temporary file and its size and SHA-256 must match the
manifest's; every line must parse. Only then is a new list file built and
switched to, so lookups never see half a list and never wait on a sync. Any
failure leaves the previous list serving.

A store a few versions behind applies the chain of deltas to a copy of its
current list file (cheap: a file copy and the changed rows); one with no
list, or too far behind, or whose deltas fail a check, takes the snapshot.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..errors import ConfigError
from ..tiers import feed
from ..tiers.lists import ListBuilder, ListPatcher, TierRecord
from . import experiment, invitations, outbox

log = logging.getLogger("posplugin.sync")
# Connect, then read: a head office that accepts and says nothing does not hang a round.
TIMEOUT = (3.05, 30)  # no mutate: seconds no test waits out


STATUSES = ("updated", "unchanged", "refused", "unreachable")


@dataclass
class SyncResult:
    status: str  # one of STATUSES
    version: int | None
    message: str

    @property
    def ok(self) -> bool:
        return self.status in ("updated", "unchanged")

    def log(self) -> None:
        """One log line: applied lists at info, refusals loudly (the previous
        list keeps serving), unchanged rounds only when debugging."""
        level = {"updated": logging.INFO, "unchanged": logging.DEBUG}.get(self.status, logging.ERROR)
        log.log(level, "sync: %s", self.message)


def session(retries: int = 3) -> requests.Session:
    """A Session that retries connection errors and 5xx answers with backoff."""
    http = requests.Session()
    retry = Retry(total=retries, status_forcelist=(500, 502, 503, 504), allowed_methods=("GET",),
                  raise_on_status=False,
                  backoff_factor=0.5)  # no mutate: waits between retries, not a result
    http.mount("http://", HTTPAdapter(max_retries=retry))
    http.mount("https://", HTTPAdapter(max_retries=retry))
    return http


def sync_once(store, http: requests.Session | None = None) -> SyncResult:
    """One round with head office: pull the list, then push the outcome reports.
    Never raises for head office's failures."""

    result = pull_list(store, http)
    experiment.track(store.db, store.clock())
    http = http or session()
    http.headers["Authorization"] = f"Bearer {store.settings.hq_token}"
    base = store.settings.hq_url.rstrip("/")
    delivered, error = outbox.send(store, http, base + "/hq/v1/reports", timeout=TIMEOUT)
    if not error:
        error = invitations.send(store, http, base + "/hq/v1/invitations", timeout=TIMEOUT)[1]
    if error:
        log.error("sync: %s (kept in the outbox for the next round)", error)
        if result.ok:
            status = "refused" if "refused by head office" in error else "unreachable"
            return SyncResult(status, result.version, f"{result.message}; {error}")
    return result


def sync_in_child(data_dir: Path, timeout_s: float = 3600) -> SyncResult:
    """One sync round in a separate, lower-priority process (``posplugin sync
    --once --nice``). Parsing and building a list of millions of rows in the
    serving process would hold its interpreter lock in 5 ms slices and delay
    the tills' answers; in a child it only shares the CPU, and the serving
    process picks the new list up at its next lookup."""
    command = [sys.executable, "-m", "posplugin", "sync", "--once", "--nice", "--data", str(data_dir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.error("sync: no answer from the sync process within %s s; stopped it", timeout_s)
        return SyncResult("unreachable", None, "sync process timed out")
    lines = done.stdout.strip().splitlines()
    status, _, message = (lines[-1] if lines else "").partition(": ")
    if done.returncode not in (0, 1) or status not in STATUSES:
        log.error("sync: the sync process failed (exit %s): %s", done.returncode, done.stderr.strip()[-2000:])
        return SyncResult("refused", None, "sync process failed")
    result = SyncResult(status, None, message)
    result.log()
    return result


def pull_list(store, http: requests.Session | None = None) -> SyncResult:
    """Pull, verify and apply the tier list: by deltas where the store's
    version has an unbroken chain to head office's, else by snapshot."""
    s = store.settings
    missing = [name for name in ("hq_url", "hq_token", "hq_public_key") if not getattr(s, name)]
    if missing:
        raise ConfigError([f"sync needs {', '.join(missing)} (from head office: `posplugin hq store add` "
                           "and `posplugin hq public-key`)"])
    http = http or session()
    http.headers["Authorization"] = f"Bearer {s.hq_token}"
    base = s.hq_url.rstrip("/") + "/hq/v1/feed/"
    info = store.tiers.info()
    # A list that cannot serve is no version at all: the manifest is fetched
    # whole (no ETag) and the snapshot applied, whatever version it names.
    damaged = store.tiers.unusable()
    current = info.version if info.source == "hq" and not damaged else None
    headers = {feed.LIST_VERSION_HEADER: str(current)} if current is not None else {}
    etag = None if damaged else _state(store)["etag"]
    if etag:
        headers["If-None-Match"] = etag
    if damaged:
        log.warning("sync: the list in use cannot serve; taking head office's snapshot again")
    try:
        response = http.get(base + "manifest.json", timeout=TIMEOUT, headers=headers)
    except requests.RequestException as exc:
        return _finish(store, SyncResult("unreachable", None, f"head office unreachable: {exc.__class__.__name__}"))
    if response.status_code == 304:
        return _finish(store, SyncResult("unchanged", current, "list unchanged"), etag)
    if response.status_code != 200:
        return _finish(store, SyncResult("unreachable", None, f"head office answered {response.status_code}"))
    try:
        manifest = feed.verify(response.json(), s.hq_public_key, now=store.clock(), current_version=current)
    except (feed.FeedError, ValueError) as exc:
        return _finish(store, SyncResult("refused", None, f"manifest refused: {exc}"))
    # The experiment travels in the same signed manifest, list changed or not.
    with store.db.write() as conn:
        if experiment.apply_manifest(conn, manifest, store.clock()):
            store.holdout.forget()
            log.info("sync: experiment now %s", manifest.get("experiment") or "none")
    if manifest["version"] == current or not manifest.get("snapshot"):
        return _finish(store, SyncResult("unchanged", current, "list unchanged"), response.headers.get("ETag"))
    try:
        how = _apply(store, *_body_source(manifest, base, http), manifest, current)
    except feed.FeedError as exc:
        return _finish(store, SyncResult("refused", None, f"list refused: {exc}"))
    except requests.RequestException as exc:
        return _finish(store, SyncResult("unreachable", None, f"download failed: {exc.__class__.__name__}"))
    return _finish(store, SyncResult("updated", manifest["version"],
                                     f"applied version {manifest['version']} ({how})"), response.headers.get("ETag"))


def _body_source(manifest: dict, base: str, http) -> tuple[requests.Session, str]:
    """Where to download the bodies: the signed manifest's ``base_url`` (a
    static host, CDN or bucket) or head office's own feed route. Head office's
    token is only ever sent to head office's origin."""
    url = manifest.get("base_url")
    if not url:
        return http, base
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise feed.FeedError("the manifest's base_url is not an http(s) URL")
    url = url if url.endswith("/") else url + "/"
    if _origin(url) == _origin(base):
        return http, url
    return session(), url


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _apply(store, http, base: str, manifest: dict, current: int | None) -> str:
    """Apply the manifest's version; returns how, in words."""
    chain = feed.delta_chain(manifest, current)
    base_file = store.tiers.current_file()
    if chain and base_file and sum(d["bytes"] for d in chain) < manifest["snapshot"]["bytes"]:
        try:
            return _apply_deltas(store, http, base, manifest, chain, base_file)
        except (feed.FeedError, requests.RequestException) as exc:
            # The snapshot is verified on its own, so a bad delta need not stop the update.
            log.warning("sync: delta path refused (%s); taking the full snapshot", exc)
    rows = _apply_snapshot(store, http, base, manifest)
    return f"snapshot, {rows} rows"


def _download(http, url: str, expected: dict, folder: Path) -> Path:
    """Stream ``url`` to a file in ``folder``; raises :class:`feed.FeedError`
    unless its size and SHA-256 are the signed ones."""
    body = folder / expected["path"]
    digest, size = hashlib.sha256(), 0
    with http.get(url + expected["path"], timeout=TIMEOUT, stream=True) as response:
        if response.status_code != 200:
            raise feed.FeedError(f"{expected['path']} download answered {response.status_code}")
        with open(body, "wb") as out:
            for chunk in response.iter_content(1 << 16):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
        raise feed.FeedError(f"{expected['path']} does not match the signed manifest ({size} bytes received, "
                             f"{expected['bytes']} signed; SHA-256 "
                             f"{'differs' if size == expected['bytes'] else 'unchecked'})")
    return body


def _apply_snapshot(store, http, base: str, manifest: dict) -> int:
    with tempfile.TemporaryDirectory(dir=store.tiers.data_dir, prefix="sync-") as tmp:
        body = _download(http, base, manifest["snapshot"], Path(tmp))
        builder = ListBuilder(store.tiers.data_dir)
        try:
            with open(body, encoding="utf-8", newline="\n") as lines:
                for line in lines:
                    key, followers, rate, niches = feed.parse_snapshot_line(line)
                    builder.add(key, TierRecord(followers, rate, niches))
            path, rows = builder.finish(version=manifest["version"], source="hq", synced_at=store.clock())
        except BaseException:
            builder.discard()
            raise
    _activate_checked(store, path, rows, manifest)
    return rows


def _apply_deltas(store, http, base: str, manifest: dict, chain: list[dict], base_file: Path) -> str:
    with tempfile.TemporaryDirectory(dir=store.tiers.data_dir, prefix="sync-") as tmp:
        bodies = [_download(http, base, delta, Path(tmp)) for delta in chain]
        patcher = ListPatcher(store.tiers.data_dir, base_file)
        upserts = deletes = 0
        try:
            for body in bodies:
                with open(body, encoding="utf-8", newline="\n") as lines:
                    for line in lines:
                        key, values = feed.parse_delta_line(line)
                        if values is None:
                            patcher.remove(key)
                            deletes += 1
                        else:
                            patcher.upsert(key, TierRecord(*values))
                            upserts += 1
                patcher.flush()
            path, rows = patcher.finish(version=manifest["version"], source="hq", synced_at=store.clock())
        except BaseException:
            patcher.discard()
            raise
    _activate_checked(store, path, rows, manifest)
    return f"{len(chain)} delta{'s' if len(chain) > 1 else ''}, {upserts} upserts, {deletes} deletes"


def _activate_checked(store, path: Path, rows: int, manifest: dict) -> None:
    if rows != manifest["rows"]:
        path.unlink(missing_ok=True)
        raise feed.FeedError(f"the list would have {rows} rows, the manifest says {manifest['rows']}")
    store.tiers.activate(path)


def _state(store) -> dict:
    rows = store.db.utils["sync_state"].rows_where("id = 1", select="etag, synced_at, last_error")
    return next(rows, dict.fromkeys(("etag", "synced_at", "last_error")))


def _finish(store, result: SyncResult, etag: str | None = None) -> SyncResult:
    """Record the outcome; log refusals loudly (the previous list keeps serving)."""
    with store.db.write() as conn:
        if result.ok:
            conn.execute("INSERT INTO sync_state (id, etag, synced_at, last_error) VALUES (1, ?, ?, NULL)"
                         " ON CONFLICT (id) DO UPDATE SET etag = excluded.etag,"
                         " synced_at = excluded.synced_at, last_error = NULL", (etag, store.clock()))
        else:
            conn.execute("INSERT INTO sync_state (id, last_error) VALUES (1, ?) ON CONFLICT (id)"
                         " DO UPDATE SET last_error = excluded.last_error", (result.message,))
    result.log()
    return result


def last_synced_at(store) -> float | None:
    return _state(store)["synced_at"]
