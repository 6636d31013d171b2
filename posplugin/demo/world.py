"""What a running demo is made of: the store and its head office, their
servers and data folders, the tokens the simulated devices use, the
made-up customers, and the narrator that tells the shift."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..hq.office import HeadOffice
from ..store.service import Store
from ..web.server import BackgroundServer
from .data import DemoCustomer
from .narrator import Narrator


@dataclass
class DemoStore:
    """A running demo store and its head office: data folders, servers, tokens."""

    data_dir: Path
    store: Store
    server: BackgroundServer
    tokens: dict[str, str]
    customers: list[DemoCustomer]
    example: DemoCustomer
    office: HeadOffice | None = None
    hq_server: BackgroundServer | None = None
    hq_admin: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    housekeepers: list = field(default_factory=list)
    lock: object = None
    listening: object = None  # posplugin.demo.listening.DemoListening, once attached
    narrator: Narrator | None = None

    def tell(self, kind: str, **values) -> None:
        """One event of the shift, on the console (see :class:`Narrator`)."""
        self.narrator.tell(kind, **values)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.stop.set()
        for keeper in self.housekeepers:
            keeper.stop()
        self.server.stop()
        self.store.close()
        if self.hq_server:
            self.hq_server.stop()
            self.office.close()
        if self.lock:
            self.lock.release()
