"""An AXIS Queue Monitor style people counter → a queue length reading per
region.

AXIS Queue Monitor (a camera application, up to three queue regions) does not
push its counts anywhere: it answers
``GET /local/queue/.api?live-sum-people.json`` on the camera with
``{"serial", "name", "timestamp": "YYYYMMDDhhmmss", "region1name",
"region1people", "region2name", ...}`` (Axis VAPIX "Queue monitor API"). So a
small relay next to the camera (cron and curl, or any script) fetches that
document every few seconds and posts it here unchanged. Neither the camera
nor the document carries a signature, so the relay authenticates with a
shared secret as a bearer token: ``Authorization: Bearer <axis_token>``.

Settings: ``axis_token`` and ``axis_regions`` (``"ACCC8E20F09B:region3=2,
region1=1"``: a region of one camera (serial) or of any camera = posplugin
lane). Regions not mapped are ignored, so nothing is counted until
``axis_regions`` is set. Each mapped region's count becomes
``queues.reading(lane, count)``; a document re-posted with the same serial and
timestamp is a replay and is dropped. The camera's timestamp has no zone, so
readings are taken as of their arrival.
"""

import re

from posplugin.errors import ValidationError
from posplugin.hookspecs import hookimpl
from posplugin.store.queues import MAX_LENGTH
from posplugin.webhooks import bearer_token, json_payload, lane_map, require_secret

REGION = re.compile(r"^region(\d+)people$")


def _count(value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LENGTH:
        raise ValidationError(f"{key} must be a whole number of people from 0 to {MAX_LENGTH:,}", field=key)
    return value


def counts(store, request):
    settings = store.settings.extra
    require_secret(settings.get("axis_token"), bearer_token(request), vendor="Axis counter",
                   what="bearer token")
    payload = json_payload(request)
    serial, timestamp = str(payload.get("serial") or ""), payload.get("timestamp")
    # Every count is checked before anything is recorded: a bad document changes nothing.
    regions = sorted((int(m.group(1)), _count(payload[key], key)) for key in payload if (m := REGION.match(key)))
    if not regions:
        return {"ok": True, "ignored": "no region counts"}
    if timestamp and not store.first_delivery("axis", f"{serial}:{timestamp}"):
        return {"ok": True, "duplicate": True}
    lanes = lane_map(settings.get("axis_regions"))
    readings, ignored = [], []
    for number, count in regions:
        lane = lanes.get(f"{serial}:region{number}") or lanes.get(f"region{number}")
        if lane is None:
            ignored.append(f"region{number}")
        else:
            readings.append(store.queues.reading(lane, count))
    return {"ok": True, "queue": readings, "ignored": ignored}


@hookimpl
def register_routes():
    return [("POST", "/axis/counts", counts)]
