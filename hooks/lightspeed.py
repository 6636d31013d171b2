"""Lightspeed Retail (X-Series, formerly Vend) remote rule for
``sale.customer.changed`` → identify at the till during the sale, and the
prompt shown to the cashier in the register.

Lightspeed calls a registered remote rule URL with the event and the sale
(``event_type``, ``retailer_id``, ``sale``, ``customer``, ``user``...) while the
sale is open, and shows the ``actions`` of the answer in the register. The
stored copy of Lightspeed's "Business Rules" page ends before its request,
actions and timeout sections, so the shapes here are what Lightspeed's
changelog and public remote-rule implementations show: the answer is
``{"actions": [...]}``; on ``sale.customer.changed`` the register can show a
``require_custom_fields`` pop-up (``title``, ``message``, ``entity``,
``entity_id``, ``required_custom_fields: [{"name"}]``), which the 2025-06
changelog replaces with ``add_custom_fields`` plus ``skippable``; ``stop`` and
``confirm`` are for ``sale.ready_for_payment``. Answer well within a couple of
seconds; posplugin answers in milliseconds.

No request signature for remote rules could be confirmed, so the rule URL
carries a shared secret: register ``https://store.example/hooks/lightspeed/rules?secret=...``
and set ``lightspeed_secret`` to the same value. Other settings:
``lightspeed_registers`` (``"0242ac12-...=1, ..."``: register id = lane; by
default the register id is the lane), ``lightspeed_custom_field`` (the sale
custom field the pop-up asks for, default ``posplugin_ack``: define it in
Lightspeed first) and ``lightspeed_action`` (``require_custom_fields``, the
default, or ``add_custom_fields`` for a skippable pop-up).

When the request carries only the customer's id (a third-party sample's
``customer`` is just ``{id, account_type}``) and ``lightspeed_token`` (a
personal token) is set, the customer is fetched in the background from the
X-Series API (``GET https://{domain_prefix}.retail.lightspeed.app/api/2.0/customers/{id}``,
``domain_prefix`` from ``lightspeed_domain_prefix`` or the request's
``retailer.domain_prefix``), and the prompt reaches the till card over the live
stream; the rule answers no actions at once. Any failure only means no prompt.

The customer is identified by phone (``phone``, then ``mobile``), email or
``customer_code`` (as a loyalty id), preferring one that is on the tier list.
The same customer set on the same sale again is a replay: it counts no second
visit, and answers the same pop-up while the prompt is still open (the first
answer may have missed the rule's timeout).
"""

from posplugin.errors import InvalidIdentifier
from posplugin.hookspecs import hookimpl
from posplugin.webhooks import in_background, json_payload, lane_map, part, require_secret, vendor_get

EVENT = "sale.customer.changed"
NO_ACTIONS = {"actions": []}


def _identifiers(customer: dict) -> list[tuple[str, str]]:
    pairs = [("phone", customer.get("phone")), ("phone", customer.get("mobile")),
             ("email", customer.get("email")), ("loyalty_id", customer.get("customer_code"))]
    return [(kind, str(value)) for kind, value in pairs if value]


def _choose(store, identifiers):
    """The first identifier on the tier list, else the first valid one."""
    valid = []
    for kind, value in identifiers:
        try:
            hashed = store.hasher(kind, value)
        except InvalidIdentifier:
            continue
        if store.tiers.lookup(hashed) is not None:
            return kind, value
        valid.append((kind, value))
    return valid[0] if valid else None


def _api_customer(settings, domain_prefix: str, customer_id: str) -> dict:
    """The X-Series customer object for ``customer_id`` ({} when it cannot be had)."""
    token = settings.get("lightspeed_token")
    prefix = settings.get("lightspeed_domain_prefix") or domain_prefix
    base = settings.get("lightspeed_api_url") or (f"https://{prefix}.retail.lightspeed.app" if prefix else "")
    if not token or not base or not all(c.isalnum() or c in "-_" for c in customer_id):
        return {}
    body = vendor_get(f"{base.rstrip('/')}/api/2.0/customers/{customer_id}", token, vendor="Lightspeed")
    data = (body or {}).get("data")
    return data if isinstance(data, dict) else {}


def _identify_looked_up(store, lane: str, sale_id, customer_id: str, domain_prefix: str) -> None:
    """Background: fetch the customer from the X-Series API and identify them."""
    customer = _api_customer(store.settings.extra, domain_prefix, customer_id)
    chosen = _choose(store, _identifiers(customer))
    if chosen and store.first_delivery("lightspeed", f"{sale_id}:{customer_id}"):
        store.identify(lane, chosen[0], chosen[1], display_name=customer.get("first_name"),
                       sale_id=sale_id if isinstance(sale_id, str) else None)


def _action(settings, sale_id, prompt) -> dict:
    action = {"type": settings.get("lightspeed_action") or "require_custom_fields",
              "title": prompt["title"], "message": prompt["body"], "entity": "sale", "entity_id": sale_id,
              "required_custom_fields": [{"name": settings.get("lightspeed_custom_field") or "posplugin_ack"}]}
    if action["type"] == "add_custom_fields":
        action["skippable"] = True
    return action


def rule(store, request):
    settings = store.settings.extra
    require_secret(settings.get("lightspeed_secret"), request.args.get("secret"), vendor="Lightspeed")
    payload = json_payload(request)
    sale, customer = part(payload, "sale"), part(payload, "customer")
    if payload.get("event_type") != EVENT or not customer:
        return NO_ACTIONS
    register = str(sale.get("register_id") or payload.get("register_id") or "")
    lane = lane_map(settings.get("lightspeed_registers")).get(register, register) or "lightspeed"
    if not _identifiers(customer) and isinstance(customer.get("id"), str) and settings.get("lightspeed_token"):
        domain_prefix = str(part(payload, "retailer").get("domain_prefix") or "")
        in_background(_identify_looked_up, store, lane, sale.get("id"), customer["id"], domain_prefix)
        return NO_ACTIONS
    chosen = _choose(store, _identifiers(customer))
    if chosen is None:
        return NO_ACTIONS
    if store.first_delivery("lightspeed", f"{sale.get('id')}:{customer.get('id') or chosen[1]}"):
        prompt = store.identify(lane, chosen[0], chosen[1], display_name=customer.get("first_name"),
                                sale_id=sale.get("id")).prompt
    else:
        # A retry (the first answer may have missed the rule's timeout): the
        # same pop-up again, without counting a second visit.
        prompt = store.current_prompt(lane, chosen[0], chosen[1])
    if prompt is None or prompt["status"] not in ("open", "taken"):
        return NO_ACTIONS
    return {"actions": [_action(settings, sale.get("id"), prompt)]}


@hookimpl
def register_routes():
    return [("POST", "/lightspeed/rules", rule)]
