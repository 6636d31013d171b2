"""The customer's page over HTTP: /me and the ``/hq/v1/me`` routes (in
/hq/v1/openapi.json), and the route stores send after-sale invitations to.

Signed in by the session cookie of /join (HttpOnly, SameSite=Lax, Secure
over HTTPS). Every state-changing route also needs the ``X-CSRF-Token``
header the page got from ``GET /hq/v1/me``: another site can make a browser
send the cookie, but cannot read that answer to learn the token.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, jsonify, request

from ...web import pages
from ...web.endpoint import ApiBlueprint
from ..customers.me import MyPage
from ..customers.me_source import SignedIn
from . import join as join_web
from .join import COOKIE
from .schemas import SCHEMAS

CSRF_HEADER = join_web.CSRF_HEADER
CUSTOMER = (401,)
CHANGES = (401, 403)
LANG = {"name": "lang", "in": "query", "required": False, "schema": {"enum": ["en", "nb"]}}

bp = ApiBlueprint("me", __name__, url_prefix="/hq/v1", tag="customer", schemas=SCHEMAS)
page_bp = Blueprint("me_page", __name__)


def my_page() -> MyPage:
    """The running app's customer page."""
    return join_web.customer_side().page


csrf_token = join_web.csrf_token  # one token per session, for /join and /me alike


def _signed_in() -> SignedIn:
    return my_page().source.signed_in(request.cookies.get(COOKIE))


def _changing() -> SignedIn:
    """The signed-in customer of a state-changing request, once its CSRF token holds."""
    who = _signed_in()
    join_web.check_csrf("GET /hq/v1/me")
    return who


def _language() -> str:
    return request.args.get("lang") or current_app.config.get("POSPLUGIN_LANGUAGE", "en")


@page_bp.get("/me")
def me_page():
    return pages.page("me.html")


@bp.operation("GET", "/me", summary="The customer's page: why this tier, accounts, invitations, what was heard, audit",
              roles=None, parameters=[LANG], errors=CUSTOMER)
def me():
    who = _signed_in()
    return jsonify({**my_page().overview(who, _language()),
                    "csrf": csrf_token(request.cookies.get(COOKIE, ""))})


@bp.operation("GET", "/me/pass", summary="A fresh pass (QR code) for the till, good for a few minutes; "
              "none (403 no_consent) while the customer objects to tiering", roles=None, errors=CUSTOMER + (403,))
def my_pass():
    return jsonify(my_page().pass_for(_signed_in()))


@bp.operation("GET", "/me/export", summary="Everything head office holds about the customer (JSON)",
              roles=None, errors=CUSTOMER)
def export():
    data = my_page().export(_signed_in())
    return Response(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"'})


@bp.operation("POST", "/me/object", summary="Object to tiering: consent withdrawn, gone from the next version",
              roles=None, errors=CHANGES)
def object_():
    return jsonify(my_page().object(_changing()))


@bp.operation("DELETE", "/me", summary="Delete the customer and their linked tokens; one audit line remains",
              roles=None, errors=CHANGES)
def delete_me():
    response = jsonify(my_page().delete(_changing()))
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.operation("POST", "/me/accounts/<int:account_id>/refresh", summary="Refresh a linked account's figures now",
              roles=None, errors=CHANGES + (429,))
def refresh(account_id: int):
    return jsonify(my_page().refresh(_changing(), account_id))


@bp.operation("DELETE", "/me/accounts/<int:account_id>", summary="Unlink an account (token revoked where possible)",
              roles=None, errors=CHANGES)
def unlink(account_id: int):
    return jsonify(my_page().unlink(_changing(), account_id))


@bp.operation("DELETE", "/me/heard/<int:heard_id>", summary="Remove one post listening heard from the customer",
              roles=None, errors=CHANGES + (404,))
def remove_heard(heard_id: int):
    return jsonify(my_page().remove_heard(_changing(), heard_id))


@bp.operation("DELETE", "/me/heard", summary="Remove everything listening heard from the customer",
              roles=None, errors=CHANGES)
def remove_all_heard():
    return jsonify(my_page().remove_heard(_changing()))


@bp.operation("POST", "/invitations", summary="A store's after-sale invitations (kept only where the customer agreed)",
              roles=("store",), body="InvitationBatch", response="InvitationsReceived")
def receive_invitations(body):
    page = my_page()
    return jsonify(page.invitations.receive(g.caller.name, body["invitations"], page.source.agreed_to_invitations))
