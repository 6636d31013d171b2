"""Where each store is, for routing what customers post: its own handles
and hashtags (``@nordshop_storgata, #storgata``), its place name
(``Storgata``), and its Instagram location id. Set with ``posplugin hq store
add/set NAME --handles … --place … --instagram-location ID``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ...errors import ValidationError
from ..db import insert
from ..schema import store_places
from .mentions import parse_handles

LOCATION = re.compile(r"^[0-9]{1,30}$")


@dataclass(frozen=True)
class Place:
    store: str
    handles: tuple[str, ...] = ()
    place: str = ""
    instagram_location: str = ""

    def to_json(self) -> dict:
        return {"store": self.store, "handles": list(self.handles), "place": self.place,
                "instagram_location": self.instagram_location}


def checked(store: str, handles: str | None, place: str | None, location: str | None) -> dict:
    """The columns to write for a store's placement; raises :class:`ValidationError`."""
    values = {}
    if handles is not None:
        parsed = parse_handles(handles)
        if any(len(h) > 100 for h in parsed):
            raise ValidationError("a handle or hashtag is at most 100 characters", field="handles")
        values["handles"] = ",".join(parsed)
    if place is not None:
        if len(place.strip()) > 200:
            raise ValidationError("a place name is at most 200 characters", field="place")
        values["place"] = place.strip()
    if location is not None:
        if location and not LOCATION.match(location.strip()):
            raise ValidationError("an Instagram location id is a number (the id in the location's URL)",
                                  field="instagram_location")
        values["instagram_location"] = location.strip()
    if not store or len(store) > 200:
        raise ValidationError("a store name is 1 to 200 characters", field="name")
    return values


class Placements:
    """The stores' placements in head office's database."""

    def __init__(self, engine: Engine, clock):
        self.engine = engine
        self.clock = clock

    def set(self, store: str, *, handles: str | None = None, place: str | None = None,
            instagram_location: str | None = None) -> Place:
        """Set what is given of ``store``'s placement (None leaves a part as it is)."""
        values = checked(store, handles, place, instagram_location)
        upsert = insert(self.engine, store_places).values(name=store, updated_at=self.clock(), **values)
        upsert = upsert.on_conflict_do_update(index_elements=["name"],
                                              set_={**values, "updated_at": upsert.excluded.updated_at})
        with self.engine.begin() as conn:
            conn.execute(upsert)
        return self.get(store)

    def get(self, store: str) -> Place | None:
        return next((p for p in self.all() if p.store == store), None)

    def all(self) -> list[Place]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(store_places).order_by(store_places.c.name)).all()
        return [Place(r.name, tuple(filter(None, r.handles.split(","))), r.place, r.instagram_location)
                for r in rows]
