"""Square payment webhooks → an "after the sale" amplify prompt for the floor.

Square signs each notification with ``x-square-hmacsha256-signature``: the
base64 HMAC-SHA256, under the subscription's signature key, of the
notification URL followed by the raw body. Settings (posplugin.ini or
POSPLUGIN_*): ``square_signature_key`` and ``square_notification_url`` (the URL
exactly as registered with Square), and optionally ``square_devices``
(``device_id=lane, ...``) so a prompt names the lane a Square device stands at.
Replays are dropped by ``event_id``. The prompt names the buyer by the first
name on the payment's ``billing_address`` when there is one, and the place by
``device_details.device_name`` when no lane is mapped.
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
    device = obj.get("device_details") or {}
    lanes = dict(pair.split("=", 1) for pair in
                 (p.strip() for p in settings.get("square_devices", "").split(",")) if "=" in pair)
    lane = lanes.get(str(device.get("device_id", ""))) or None
    first_name = ((obj.get("billing_address") or {}).get("first_name") or "").strip()[:64] or None
    place = None if lane else (str(device.get("device_name") or "").strip()[:64] or None)
    prompt = store.after_sale("email", email, lane=lane and lane.strip(), display_name=first_name,
                              place=place, sale_total=sale_total(obj))
    return {"ok": True, "prompt": prompt and prompt["id"]}


@hookimpl
def register_routes():
    return [("POST", "/square/payments", payment)]
