"""Asking a customer whose praise was heard to share it: a labelled
invitation on their page, sent the way after-sale invitations are (the ad
label rules of ``invite_reward`` apply), only where they agreed to
invitations and consented to listening, once per post."""

from __future__ import annotations

from sqlalchemy import select

from ...errors import Conflict, ValidationError
from ..customers.me import MyPage
from ..schema import customer_identifiers
from .heard import Listening


def ask_to_share(page: MyPage, listening: Listening, heard_id: int) -> dict:
    """Send the invitation for heard post ``heard_id`` through the customer's
    side (``page``: its invitations and what each customer agreed to);
    returns the post as it now stands."""
    post, customer_id, posted_at = listening.share_candidate(heard_id)
    with listening.engine.connect() as conn:
        id_hash = conn.scalar(select(customer_identifiers.c.id_hash)
                              .where(customer_identifiers.c.customer_id == customer_id).limit(1))
    if not id_hash or not page.source.agreed_to_invitations(id_hash):
        raise ValidationError("this customer did not agree to invitations", field="id")
    if not page.invitations.ask_to_share(post["store"] or "", f"heard-{heard_id}", id_hash, posted_at):
        raise Conflict("this customer was already asked to share this post")
    return listening.mark_share_asked(heard_id)
