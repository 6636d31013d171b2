"""The customer's side of head office over HTTP: the public /join page, its
one-time code, consent and session routes (in /hq/v1/openapi.json).

A customer is signed in by an HttpOnly, SameSite=Lax session cookie set when
their code is right. Other customer pages (/me) get the signed-in customer
with :func:`signed_in_customer`. Every call that changes a signed-in
customer's state also needs the ``X-CSRF-Token`` header their page got from
``GET /hq/v1/join/session`` (or ``/verify``): another site can make a browser
send the cookie, but cannot read those answers to learn the token.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, request

from ...errors import Forbidden, NotFound, Unauthorized
from ...web import pages
from ...web.endpoint import ApiBlueprint
from ..customer_side import CustomerSide
from ..customers import consent as consent_text
from ..customers.accounts import Accounts, LinkFailed
from ..customers.join import Customers, SignedIn
from ..customers.senders import mask
from ..platforms import bluesky
from .schemas import SCHEMAS

COOKIE = "posplugin_customer"
SIDE = "posplugin.hq.customer_side"
CUSTOMER = (401,)  # a customer route answers 401 when nobody is signed in
CHANGES = (401, 403)  # and 403 when a change comes without the session's CSRF token
CSRF_HEADER = "X-CSRF-Token"

bp = ApiBlueprint("join", __name__, url_prefix="/hq/v1", tag="customer", schemas=SCHEMAS)
page_bp = Blueprint("join_page", __name__)


def customer_side(app: Flask | None = None) -> CustomerSide:
    """The customer's side of ``app`` (default: the running app)."""
    return (app or current_app).extensions[SIDE]


def customers() -> Customers:
    """The running app's :class:`Customers`."""
    return customer_side().customers


def accounts() -> Accounts:
    """The running app's :class:`Accounts`."""
    return customer_side().accounts


def signed_in_customer() -> SignedIn:
    """The customer signed in on this request (their id, and the type and
    keyed hash of the identifier they proved); raises ``Unauthorized`` (401)."""
    return customers().signed_in(request.cookies.get(COOKIE))


def csrf_token(session_token: str) -> str:
    """The token a page must echo in ``X-CSRF-Token``: bound to its session."""
    return hashlib.sha256(b"posplugin-csrf:" + session_token.encode()).hexdigest()[:32]


def check_csrf(where: str = "GET /hq/v1/join/session") -> None:
    """Raise ``Forbidden`` (403 ``csrf``) unless the request echoes its session's CSRF token."""
    # Compared as bytes: compare_digest refuses a str with non-ASCII characters.
    sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(sent, csrf_token(request.cookies.get(COOKIE, "")).encode()):
        raise Forbidden(f"send the {CSRF_HEADER} header from {where} (this page may be stale: reload it)",
                        code="csrf")


def changing_customer() -> SignedIn:
    """The signed-in customer of a state-changing request, once its CSRF token holds."""
    who = signed_in_customer()
    check_csrf()
    return who


def _session_cookie(response, token: str, max_age: int) -> None:
    secure = current_app.config.get("POSPLUGIN_PUBLIC_URL", "").startswith("https://")
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="Lax", secure=secure,
                        path="/")


@bp.before_request
def same_site_only():
    """Refuse a browser's cross-site write (defence in depth beside the
    SameSite cookie and JSON-only bodies): its Origin must be this host."""
    origin = request.headers.get("Origin")
    if request.method in ("POST", "DELETE") and origin:
        public = current_app.config.get("POSPLUGIN_PUBLIC_URL", "")
        allowed = {request.host, urlsplit(public).netloc if public else request.host}
        if _netloc(origin) not in allowed:
            raise Forbidden("requests from other sites are refused", code="cross_site")


def _netloc(url: str) -> str | None:
    """The host and port of ``url``; None when it is no URL (``http://[::1``)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return None


@page_bp.get("/join")
def join_page():
    return pages.page("join.html")


@bp.operation("GET", "/join/consent", summary="What a customer agrees to: version, scopes, words",
              roles=None)
def consent_document():
    return jsonify(consent_text.document())


@bp.operation("POST", "/join/code", summary="Send a one-time code to a phone (SMS) or email",
              roles=None, body="JoinCodeRequest", response="JoinCodeSent", errors=(429, 503))
def send_code(body):
    identifier = body["identifier"]
    sent = customers().request_code(identifier["type"], identifier["value"], request.remote_addr or "",
                                    body.get("language", "en"))
    channel = sent["channel"]
    return jsonify({**sent, "to": mask(channel, identifier["value"].strip())})


@bp.operation("POST", "/join/verify", summary="Prove the phone or email with its code; signs the customer in",
              roles=None, body="JoinVerifyRequest", response="JoinSession", errors=(403,))
def verify(body):
    identifier = body["identifier"]
    try:  # a signed-in customer proving another phone or email adds it to themself
        attach = customers().signed_in(request.cookies.get(COOKIE)).customer_id
    except Unauthorized:
        attach = None
    if attach is not None:  # and only from their own page: another site must not attach its phone
        check_csrf()
    who, token = customers().verify_code(identifier["type"], identifier["value"], body["code"], attach)
    response = jsonify(_session(who, token))
    _session_cookie(response, token, int(who.expires_at - customers().clock()))
    return response


@bp.operation("GET", "/join/session", summary="Whether a customer is signed in, their consent and accounts",
              roles=None, response="JoinSession")
def session():
    token = request.cookies.get(COOKIE)
    if not token:
        return jsonify({"signed_in": False})
    try:
        who = customers().signed_in(token)
    except Unauthorized:
        return jsonify({"signed_in": False})
    return jsonify(_session(who, token))


def _session(who: SignedIn, token: str) -> dict:
    return {"signed_in": True, "id_type": who.id_type, "consent": customers().consent(who.customer_id),
            "accounts": accounts().of_customer(who.customer_id), "platforms": sorted(accounts().platforms),
            "csrf": csrf_token(token)}


@bp.operation("POST", "/join/consent", summary="Give consent to the current text for some scopes",
              roles=None, body="ConsentRequest", response="Consent", errors=CHANGES + (409,))
def give_consent(body):
    who = changing_customer()
    return jsonify(customers().give_consent(who.customer_id, body["version"], body["scopes"],
                                            body.get("language", "en")))


@bp.operation("DELETE", "/join/consent", summary="Withdraw consent (published in the next version)",
              roles=None, errors=CHANGES)
def withdraw_consent():
    who = changing_customer()
    return jsonify({"withdrawn": customers().withdraw_consent(who.customer_id)})


@bp.operation("POST", "/join/signout", summary="Sign out on this device", roles=None, errors=(403,))
def sign_out():
    try:
        customers().signed_in(request.cookies.get(COOKIE))
        check_csrf()  # another site must not sign the customer out either
    except Unauthorized:
        pass  # nobody is signed in: the cookie is cleared all the same
    customers().sign_out(request.cookies.get(COOKIE))
    response = jsonify({"signed_in": False})
    response.delete_cookie(COOKIE, path="/")
    return response


PLATFORM = {"name": "platform", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,31}$"}}
# Platforms add their own parameters to the callback (Google: scope, authuser, prompt, hd; TikTok: scopes).
# Each is far longer than any platform sends; together they may pass the
# front door's 8,190 bytes of request line, which is a 400.
CALLBACK_QUERY = [{"name": name, "in": "query", "required": False, "schema": {"type": "string", "maxLength": length}}
                  for name, length in (("code", 2048), ("state", 512), ("error", 256), ("error_description", 1024),
                                       ("error_reason", 256), ("error_code", 64), ("scope", 1024), ("scopes", 1024),
                                       ("authuser", 16), ("prompt", 64), ("hd", 256), ("iss", 512))]


def _redirect_uri(platform: str) -> str:
    base = current_app.config.get("POSPLUGIN_PUBLIC_URL") or request.host_url
    return f"{base.rstrip('/')}/hq/v1/join/accounts/{platform}/callback"


@bp.operation("POST", "/join/accounts/<platform>/link", summary="Start linking an account: the platform's "
              "authorize URL (OAuth 2.0 code flow with PKCE)", roles=None, parameters=[PLATFORM], errors=CHANGES)
def link(platform: str):
    who = changing_customer()
    return jsonify({"authorize_url": accounts().start_link(who.customer_id, platform, _redirect_uri(platform),
                                                           session=request.cookies.get(COOKIE, ""))})


@bp.operation("GET", "/join/accounts/<platform>/callback", summary="Where the platform sends the customer back; "
              "redirects to /join", roles=None, parameters=[PLATFORM, *CALLBACK_QUERY], redirect=True)
def link_callback(platform: str):
    if request.args.get("error") or not request.args.get("code") or not request.args.get("state"):
        reason = request.args.get("error_description") or request.args.get("error") or "no code"
        return redirect(f"/join#link_error={quote(reason[:120])}")
    try:
        # The session cookie comes along (SameSite=Lax allows it on this top-level
        # redirect): only the browser that started the link may finish it.
        accounts().finish_link(platform, request.args["state"], request.args["code"], _redirect_uri(platform),
                               session=request.cookies.get(COOKIE),
                               callback={k: v for k, v in request.args.items() if k not in ("code", "state")})
    except LinkFailed as exc:
        return redirect(f"/join#link_error={quote(exc.message[:120])}")
    return redirect(f"/join#linked={quote(platform)}")


@bp.operation("POST", "/join/bluesky/link", summary="Start linking a Bluesky account from its handle: the "
              "account's authorization server's authorize URL (AT Protocol OAuth: PAR, PKCE, DPoP)", roles=None,
              body="BlueskyLinkRequest", errors=CHANGES + (404,))
def link_bluesky(body):
    who = changing_customer()
    return jsonify({"authorize_url": accounts().start_link(
        who.customer_id, "bluesky", _redirect_uri("bluesky"), session=request.cookies.get(COOKIE, ""),
        handle=body["handle"])})


@bp.operation("GET", "/join/accounts/bluesky/" + bluesky.METADATA, summary="Head office's AT Protocol OAuth "
              "client metadata (its URL is the client_id Bluesky's servers fetch)", roles=None, errors=(404,))
def bluesky_client_metadata():
    platform = accounts().platform("bluesky")
    if not isinstance(platform, bluesky.Bluesky):
        raise NotFound("Bluesky is not linked through head office's own client here")
    return jsonify(platform.client_metadata(_redirect_uri("bluesky")))


@bp.operation("DELETE", "/join/accounts/<platform>", summary="Unlink an account (its token and figures are dropped)",
              roles=None, parameters=[PLATFORM], errors=CHANGES)
def unlink(platform: str):
    who = changing_customer()
    return jsonify({"unlinked": accounts().unlink(who.customer_id, platform)})


@bp.operation("POST", "/join/handles", summary="Give a public handle instead of linking (Instagram "
              "professional accounts): it counts once proved (the phrase answered, put in its bio or a post)",
              roles=None, body="HandleRequest", errors=CHANGES)
def add_handle(body):
    who = changing_customer()
    phrase = accounts().add_handle(who.customer_id, body["platform"], body["handle"])
    return jsonify({"accounts": accounts().of_customer(who.customer_id), "proof": phrase})


@bp.operation("POST", "/join/handles/<platform>/check", summary="Prove a handle given: its bio or a latest "
              "post holds the phrase (read through the platform); 422 not_proved while it does not",
              roles=None, parameters=[PLATFORM], errors=CHANGES)
def prove_handle(platform: str):
    who = changing_customer()
    accounts().prove_handle(who.customer_id, platform)
    return jsonify({"accounts": accounts().of_customer(who.customer_id)})


@bp.operation("GET", "/metrics/status", summary="The collector's progress and failures per platform, and the last "
              "build", roles=("admin",))
def metrics_status():
    side = customer_side()
    return jsonify({**side.collector.status(), "last_build": side.builder.last()})
