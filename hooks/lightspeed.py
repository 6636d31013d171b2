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

The customer is identified by phone (``phone``, then ``mobile``), email or
``customer_code`` (as a loyalty id), preferring one that is on the tier list.
The same customer set on the same sale again is a replay: it counts no second
visit, and answers the same pop-up while the prompt is still open (the first
answer may have missed the rule's timeout).
"""

from posplugin.errors import InvalidIdentifier
from posplugin.hookspecs import hookimpl
from posplugin.webhooks import json_payload, lane_map, part, require_secret

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
    chosen = _choose(store, _identifiers(customer))
    if chosen is None:
        return NO_ACTIONS
    register = str(sale.get("register_id") or payload.get("register_id") or "")
    lane = lane_map(settings.get("lightspeed_registers")).get(register, register) or "lightspeed"
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
