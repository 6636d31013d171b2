"""Shopify order webhooks (orders/create, orders/paid) → an "after the sale"
amplify prompt for the floor.

Shopify signs each webhook with ``X-Shopify-Hmac-Sha256``: the base64
HMAC-SHA256 of the raw body under the app's client secret (setting
``shopify_secret``). Replays are dropped by ``X-Shopify-Webhook-Id`` (or
``X-Shopify-Event-Id``).
"""

from posplugin.hookspecs import hookimpl
from posplugin.webhooks import json_payload, require_signature


def sale_total(order: dict) -> float | None:
    """The order's ``total_price`` (a decimal string in the shop's currency)."""
    try:
        total = float(order.get("total_price"))
    except (TypeError, ValueError):
        return None
    return total if 0 <= total < 1e9 else None


def order(store, request):
    require_signature(store.settings.extra.get("shopify_secret"), request.get_data(),
                      request.headers.get("X-Shopify-Hmac-Sha256"), vendor="Shopify")
    delivery = request.headers.get("X-Shopify-Webhook-Id") or request.headers.get("X-Shopify-Event-Id")
    order = json_payload(request)
    if not store.first_delivery("shopify", delivery or f"order-{order.get('id')}"):
        return {"ok": True, "duplicate": True}
    customer = order.get("customer") or {}
    name = customer.get("first_name")
    total = sale_total(order)
    for id_type, value in (("email", order.get("email") or customer.get("email")),
                           ("phone", order.get("phone") or customer.get("phone"))):
        if value:
            # The sale counts once, on the first identifier the order carries.
            prompt = store.after_sale(id_type, value, display_name=name, sale_total=total)
            total = None
            if prompt:
                return {"ok": True, "prompt": prompt["id"]}
    return {"ok": True, "prompt": None}


@hookimpl
def register_routes():
    return [("POST", "/shopify/orders", order)]
