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

Card-present payments carry no ``buyer_email_address``; when a payment has a
``customer_id`` and ``square_access_token`` is set, the customer is looked up
with the Customers API (``GET /v2/customers/{id}``, Square's documented
RetrieveCustomer) in the background, and their phone or email used. Any
failure of that lookup only means no prompt (fail open).
"""

from urllib.parse import quote

from babel.numbers import get_currency_precision

from posplugin.errors import InvalidIdentifier
from posplugin.hookspecs import hookimpl
from posplugin.webhooks import in_background, json_payload, require_signature, vendor_get

SQUARE_API = "https://connect.squareup.com"
SQUARE_VERSION = "2025-01-23"  # the API version requested (Square-Version header)


def customer_of(settings, customer_id: str) -> dict | None:
    """The Square customer object for ``customer_id``, or None."""
    token = settings.get("square_access_token")
    if not token:
        return None
    url = f"{(settings.get('square_api_url') or SQUARE_API).rstrip('/')}/v2/customers/{quote(customer_id, safe='')}"
    body = vendor_get(url, token, vendor="Square", headers={"Square-Version": SQUARE_VERSION})
    customer = (body or {}).get("customer")
    return customer if isinstance(customer, dict) else None


def amplify_customer(store, customer_id: str) -> None:
    """Look the payment's customer up and make the after-sale prompt (background)."""
    customer = customer_of(store.settings.extra, customer_id)
    for kind, key in (("phone", "phone_number"), ("email", "email_address")):
        value = (customer or {}).get(key)
        if not isinstance(value, str) or not value:
            continue
        try:
            if store.after_sale(kind, value, lane=None, display_name=customer.get("given_name")) is not None:
                return
        except InvalidIdentifier:
            continue


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
    if not store.first_delivery("square", event.get("event_id"), request.get_data()):
        return {"ok": True, "duplicate": True}
    obj = ((event.get("data") or {}).get("object") or {}).get("payment") or {}
    email = obj.get("buyer_email_address")
    customer_id = obj.get("customer_id")
    if obj.get("status") == "COMPLETED" and not email and isinstance(customer_id, str) and customer_id \
            and store.settings.extra.get("square_access_token"):
        in_background(amplify_customer, store, customer_id)
        return {"ok": True, "prompt": None, "lookup": "customer"}
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
