"""The feed's bodies from a static host or a bucket: head office publishes
them to a folder that a real nginx serves, or to an S3-compatible bucket, and
says where in the signed manifest; stores download from there and verify
exactly as from head office. Old bodies are pruned there too."""

import io
import json

import boto3
import pytest
import requests
from helpers import tier_csv
from moto.server import ThreadedMotoServer
from servers import Nginx, free_port

from posplugin.hq import office as hq_module
from posplugin.store.service import Store
from posplugin.store.sync import pull_list

ROWS = [["phone", "+47 412 34 567", "4200", "6.2%", "running", "yes"],
        ["email", "micro.mia@example.com", "45000", "0.003", "skincare", "yes"]]
BUCKET = "chain-feed"


def changed(n):
    """Version ``n`` of the list: one follower count moves."""
    return [ROWS[0][:2] + [str(4200 + n)] + ROWS[0][3:], ROWS[1]]


@pytest.fixture
def nginx(tmp_path):
    if not Nginx.available():
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    server = Nginx(tmp_path / "www", tmp_path / "nginx").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on loopback: a stand-in for a real bucket (AWS S3,
    MinIO, …) that speaks the same API; returns (endpoint, client)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    client.create_bucket(Bucket=BUCKET)
    # Stores read bodies anonymously (as through a CDN); head office writes with its key.
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    yield endpoint, client
    server.stop()


def store_of(hq, settings, name="oslo"):
    return Store(settings.replace(data_dir=settings.data_dir / name, hq_url=hq.server.url,
                                  hq_token=hq.create_token("store", name), hq_public_key=hq.public_key),
                 clock=hq.test_clock)


def followers(store):
    record = store.tiers.lookup(store.hasher("phone", "41234567"))
    return record and record.followers


def test_a_store_syncs_from_nginx_serving_the_feed_folder(make_hq, nginx, settings, tmp_path, no_backoff):
    hq = make_hq(feed_store=str(tmp_path / "www" / "feed"), feed_base_url=nginx.url + "/feed/")
    store = store_of(hq, settings)
    hq.import_csv(io.StringIO(tier_csv(changed(1))))
    manifest = json.loads(hq.signed_manifest())["manifest"]
    assert manifest["base_url"] == nginx.url + "/feed/"
    body = requests.get(nginx.url + "/feed/" + manifest["snapshot"]["path"], timeout=5)
    assert body.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert pull_list(store).message == "applied version 1 (snapshot, 2 rows)"
    hq.import_csv(io.StringIO(tier_csv(changed(2))))
    result = pull_list(store)
    assert result.version == 2 and "1 delta" in result.message and followers(store) == 4202
    # With nginx down the bodies cannot be had, though head office is up: the
    # store did download them from nginx, and keeps its list.
    hq.import_csv(io.StringIO(tier_csv(changed(3))))
    nginx.stop()
    assert pull_list(store).status == "unreachable" and followers(store) == 4202
    store.close()


def test_a_body_tampered_on_the_static_host_is_refused(make_hq, nginx, settings, tmp_path):
    hq = make_hq(feed_store=str(tmp_path / "www" / "feed"), feed_base_url=nginx.url + "/feed")
    hq.import_csv(io.StringIO(tier_csv(changed(1))))
    snapshot = tmp_path / "www" / "feed" / "snapshot-1.tsv"
    snapshot.write_text(snapshot.read_text().replace("4201", "9999"))
    store = store_of(hq, settings)
    result = pull_list(store)
    assert result.status == "refused" and "does not match the signed manifest" in result.message
    assert store.tiers.info().version is None  # nothing applied
    store.close()


def test_a_store_syncs_from_a_bucket_and_old_versions_are_pruned_there(make_hq, s3, settings, monkeypatch):
    endpoint, client = s3
    prefix = f"chain/{settings.data_dir.parent.name}"
    hq = make_hq(feed_store=f"s3://{BUCKET}/{prefix}", feed_base_url=f"{endpoint}/{BUCKET}/{prefix}/",
                 s3_client=client)
    store = store_of(hq, settings)
    hq.import_csv(io.StringIO(tier_csv(changed(1))))
    assert pull_list(store).version == 1
    head = client.head_object(Bucket=BUCKET, Key=f"{prefix}/snapshot-1.tsv")
    assert head["CacheControl"].endswith("immutable") and head["ContentType"] == "text/tab-separated-values"
    hq.import_csv(io.StringIO(tier_csv(changed(2))))
    result = pull_list(store)
    assert result.version == 2 and "1 delta" in result.message and followers(store) == 4202
    monkeypatch.setattr(hq_module, "DELTAS_KEPT", 1)
    hq.import_csv(io.StringIO(tier_csv(changed(3))))
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed) == ["delta-2-3.tsv", "snapshot-2.tsv",
                                                                  "snapshot-3.tsv"]
    assert pull_list(store).version == 3 and followers(store) == 4203
    # A store that ignores base_url and asks head office is sent to the bucket.
    old = requests.get(hq.server.url + "/hq/v1/feed/delta-2-3.tsv", allow_redirects=False, timeout=5,
                       headers={"Authorization": f"Bearer {store.settings.hq_token}"})
    assert old.status_code == 302 and old.headers["Location"] == f"{endpoint}/{BUCKET}/{prefix}/delta-2-3.tsv"
    store.close()
