"""Head office's listening routes: Meta's webhook, posts from any source,
the inbox and its replies, and what each store's floor fetches."""

from __future__ import annotations

import hashlib
import json
import logging

from flask import Response, current_app, g, jsonify, request

from ...errors import BadRequest, ValidationError
from ...timeutil import parse_iso
from ...web.endpoint import ApiBlueprint
from ..listening.hub import ListeningHub
from ..listening.posts import Post
from ..listening.sharing import ask_to_share
from ..listening.sources import instagram
from .join import customer_side
from .schemas import SCHEMAS

log = logging.getLogger("posplugin.hq.listening")
bp = ApiBlueprint("hq_listening", __name__, url_prefix="/hq/v1", tag="listening", schemas=SCHEMAS)
HUB = "posplugin.hq.listening"
STORE, ADMIN = ("store",), ("admin",)
_unknown_shapes: set[str] = set()


def hub() -> ListeningHub:
    return current_app.extensions[HUB]


def _query(name: str, pattern: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False,
            "schema": {"type": "string", "pattern": pattern}, "description": description}


@bp.operation("GET", "/hooks/instagram", summary="Meta's webhook subscription check (hub.challenge)",
              roles=None, response_type="text/plain", parameters=[
                  _query("hub.mode", "^subscribe$", "subscribe"),
                  _query("hub.verify_token", "^.{1,200}$", "instagram_webhook_verify_token"),
                  _query("hub.challenge", "^.{1,200}$", "echoed back")], errors=(401,))
def instagram_handshake():
    challenge = instagram.handshake(request.args, hub().settings.instagram_webhook_verify_token)
    return Response(challenge, content_type="text/plain")


@bp.operation("POST", "/hooks/instagram", summary="Meta's webhook deliveries (mentions), signed with "
              "X-Hub-Signature-256", roles=None, errors=(400, 401))
def instagram_delivery():
    raw = request.get_data(cache=False)
    settings = hub().settings
    instagram.check_signature(raw, request.headers.get(instagram.SIGNATURE), settings.instagram_client_secret)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError):
        raise BadRequest("the delivery is not JSON") from None
    try:
        found = instagram.mentions_in(body, settings.instagram_account_id)
    except ValidationError as exc:
        shape = exc.message
        if shape not in _unknown_shapes:  # once per shape: Meta retries what it sent
            _unknown_shapes.add(shape)
            log.warning("Instagram webhook delivery in a shape not understood: %s", shape)
        raise
    reader = hub().reader
    queued = reader.submit(found) if reader is not None else 0
    if found and reader is None:
        log.error("Instagram mentions arrived but instagram_account_id/instagram_account_token are not set")
    return jsonify({"mentions": len(found), "queued": queued})


def _post(body: dict) -> Post:
    try:
        at = parse_iso(body["at"])
    except ValueError as exc:
        raise ValidationError(f"at: {exc}", field="at") from None
    return Post(body["source"], body["id"], body.get("url", ""), body["text"], at,
                addressed=bool(body.get("addressed", False)), store=body.get("store"),
                location=body.get("location"), language=body.get("language"), author=body.get("author"))


@bp.operation("POST", "/heard", summary="A post from any source (kept only when head office may)",
              roles=ADMIN, body="HeardPost", response="HeardAnswer")
def heard_post(body):
    kept = hub().hear(_post(body))
    return jsonify({"kept": kept is not None, "heard": kept})


FILTERS = [_query("store", "^.{1,200}$", "one store"),
           _query("tone", "^(complaint|praise|question|neutral)$", "one tone"),
           _query("about", "^(queue|instructions|staff|stock|product|other)$", "one subject"),
           _query("days", "^[0-9]{1,2}$", "posted within this many days (1 to 90; default 7)"),
           _query("limit", "^[0-9]{1,4}$", "at most this many posts (default 200)")]


@bp.operation("GET", "/heard", summary="Everything heard, with response figures per store and chain",
              roles=ADMIN, parameters=FILTERS)
def heard_inbox():
    days = int(request.args.get("days", "7"))
    limit = int(request.args.get("limit", "200"))
    if not 1 <= days <= 90 or not 1 <= limit <= 1000:
        raise ValidationError("days must be 1 to 90 and limit 1 to 1000", field="days")
    listening = hub().listening
    return jsonify(listening.inbox(store=request.args.get("store"), tone=request.args.get("tone"),
                                   about=request.args.get("about"), since=listening.clock() - days * 86400.0,
                                   limit=limit))


@bp.operation("POST", "/heard/<int:heard_id>/reply", summary="Record an online reply to a post (who and when)",
              roles=ADMIN, body="HeardReply")
def heard_reply(heard_id: int, body):
    return jsonify(hub().listening.reply(heard_id, body["by"]))


@bp.operation("POST", "/heard/<int:heard_id>/share", summary="Ask a consented customer who praised to share it "
              "(a labelled invitation on their page)", roles=ADMIN)
def heard_share(heard_id: int):
    return jsonify(ask_to_share(customer_side().page, hub().listening, heard_id))


@bp.operation("GET", "/heard/floor", summary="The posts waiting for this store's floor (conditional: 304 "
              "while nothing is new)", roles=STORE,
              parameters=[_query("after", "^[0-9]{1,18}$", "the last id this store has")])
def heard_floor():
    store = g.caller.name
    listening = hub().listening
    etag = f'"heard-{listening.latest_for(store)}"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    posts = listening.for_store(store, int(request.args.get("after", "0")))
    response = jsonify({"posts": posts})
    response.headers["ETag"] = etag
    return response


@bp.operation("POST", "/heard/floor", summary="This store's heard prompts (made, taken, resolved) and "
              "consented customers' visits", roles=STORE, body="HeardFloorReport")
def heard_floor_report(body):
    return jsonify(hub().listening.floor_report(g.caller.name, body.get("updates", []), body.get("visits", [])))


@bp.operation("GET", "/heard/consented", summary="Keyed hashes of customers who consented to listening "
              "(a store reports only their visits)", roles=STORE)
def heard_consented():
    hashes = hub().listening.consented_hashes()
    etag = '"' + hashlib.sha256(",".join(hashes).encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    response = jsonify({"customers": hashes})
    response.headers["ETag"] = etag
    return response
