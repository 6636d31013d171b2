"""Where head office puts the feed's bodies so stores can download them: a
folder (head office's own ``feed/`` by default, or one a web server such as
nginx serves), or an S3-compatible bucket (``s3://bucket/prefix``, boto3).

Bodies are immutable and named by version (``snapshot-N.tsv``,
``delta-A-B.tsv``), so any static host, CDN or bucket can serve them; the
signed manifest carries each body's SHA-256 and says where they are
(``feed_base_url``). Head office always writes a body to its local work
folder first (the next delta is computed against the last snapshot), then
hands it to the store.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigError

# Bodies never change once written; a CDN or browser may keep them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
TSV = "text/tab-separated-values"


class FolderStore:
    """Bodies in a folder (served by head office's own route, or by a web server)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, local: Path) -> None:
        """Publish the body at ``local`` under its own name."""
        if local.parent.resolve() != self.folder.resolve():
            temporary = self.folder / (local.name + ".tmp")
            shutil.copyfile(local, temporary)
            temporary.replace(self.folder / local.name)

    def names(self) -> set[str]:
        return {p.name for p in self.folder.glob("*.tsv")}

    def delete(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.folder)


class BucketStore:
    """Bodies as objects under ``prefix/`` in an S3-compatible bucket. The
    client takes its credentials and endpoint the usual boto3 way
    (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL`` for MinIO and the like, …)."""

    def __init__(self, bucket: str, prefix: str, client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            import boto3  # a tenth of a second at start, for the one setting that uses it

            client = boto3.client("s3")
        self.client = client

    def put(self, local: Path) -> None:
        self.client.upload_file(str(local), self.bucket, self.prefix + local.name,
                                ExtraArgs={"ContentType": TSV, "CacheControl": IMMUTABLE})

    def names(self) -> set[str]:
        names = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            names |= {item["Key"][len(self.prefix):] for item in page.get("Contents", ())}
        return {name for name in names if "/" not in name and name.endswith(".tsv")}

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def open_store(setting: str, work_folder: Path, client=None):
    """The store a ``feed_store`` setting names: empty for ``work_folder``
    (head office's own ``feed/``), a folder path, or ``s3://bucket/prefix``."""
    if not setting:
        return FolderStore(work_folder)
    if setting.startswith("s3://"):
        parts = urlsplit(setting)
        if not parts.netloc:
            raise ConfigError([f"feed_store {setting!r} names no bucket: write s3://bucket/prefix"])
        return BucketStore(parts.netloc, parts.path, client)
    return FolderStore(Path(setting))
