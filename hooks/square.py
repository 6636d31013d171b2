"""Square payment webhooks → an "after the sale" amplify prompt for the floor.

Square signs each notification with ``x-square-hmacsha256-signature``: the
base64 HMAC-SHA256, under the subscription's signature key, of the
notification URL followed by the raw body. Settings (posplugin.ini or
POSPLUGIN_*): ``square_signature_key`` and ``square_notification_url`` (the URL
exactly as registered with Square). Replays are dropped by ``event_id``.
"""

from babel.numbers import get_currency_precision

from posplugin.hookspecs import hookimpl
from posplugin.webhooks import json_payload, require_signature


def sale_total(payment: dict) -> float | None:
    """The payment's ``amount_money`` (without tip) in the currency's main
    unit: Square sends the smallest unit (cents, or yen, which has none)."""
    money = payment.get("amount_money") or {}
    amount, currency = money.get("amount"), money.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0 or not isinstance(currency, str):
        return None
    # An unknown code gets two decimals, like most currencies.
    return amount / 10 ** get_currency_precision(currency)


def payment(store, request):
    settings = store.settings.extra
    require_signature(settings.get("square_signature_key"),
                      settings.get("square_notification_url", "").encode() + request.get_data(),
                      request.headers.get("x-square-hmacsha256-signature"), vendor="Square")
    event = json_payload(request)
    if not store.first_delivery("square", event.get("event_id") or ""):
        return {"ok": True, "duplicate": True}
    obj = ((event.get("data") or {}).get("object") or {}).get("payment") or {}
    email = obj.get("buyer_email_address")
    if obj.get("status") != "COMPLETED" or not email:
        return {"ok": True, "prompt": None}
    prompt = store.after_sale("email", email, lane=None, sale_total=sale_total(obj))
    return {"ok": True, "prompt": prompt and prompt["id"]}


@hookimpl
def register_routes():
    return [("POST", "/square/payments", payment)]
