"""The customer's side of one head office, wired once: customers who join
(codes, consent, sessions), the accounts they link, the collector that
measures them, the builder that publishes versions from them, and the
customer's own page (/me). The web room and ``posplugin hq serve``'s
background work both take it from here."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import HeadOfficeSettings
from ..tiers.policy import Policy
from .build import Builder
from .customers.accounts import Accounts, available
from .customers.collector import Collector
from .customers.invitations import Invitations
from .customers.join import Customers
from .customers.me import MyPage
from .customers.me_source import CustomerSource
from .customers.senders import code_senders
from .customers.vault import Vault
from .office import HeadOffice
from .platforms.oauth import Platform


@dataclass
class CustomerSide:
    customers: Customers
    accounts: Accounts
    collector: Collector
    builder: Builder
    page: MyPage

    @classmethod
    def open(cls, office: HeadOffice, settings: HeadOfficeSettings | None = None, *, send=None,
             platforms: dict[str, Platform] | None = None) -> "CustomerSide":
        """The customer's side of ``office`` as ``settings`` configure it;
        ``send`` and ``platforms`` override what the settings choose (tests, demo)."""
        settings = settings or HeadOfficeSettings(data_dir=office.data_dir)
        customers = Customers(office.engine, office.id_key, default_region=office.default_region,
                              clock=office.clock, send=send or code_senders(settings))
        vault = Vault.in_folder(office.data_dir)
        platforms = available(settings) if platforms is None else platforms
        accounts = Accounts(office.engine, vault, platforms, clock=office.clock)
        collector = Collector(office.engine, vault, platforms, clock=office.clock, data_dir=office.data_dir,
                              refresh_hours=settings.metrics_refresh_hours,
                              max_age_days=settings.metrics_max_age_days)
        builder = Builder(office, max_age_days=settings.metrics_max_age_days,
                          interval_minutes=settings.build_interval_minutes)
        page = MyPage(office, CustomerSource(customers, accounts, collector), Policy.from_settings(settings),
                      Invitations(office.engine, office.clock, delay_hours=settings.invite_delay_hours,
                                  reward=settings.invite_reward))
        # Whoever holds an account someone else tries to link is told on their page.
        accounts.tell = page.audit
        return cls(customers, accounts, collector, builder, page)

    def housekeeping(self) -> list:
        """What head office's background round purges: stale codes and sessions, old invitations."""
        return [self.customers.purge, self.page.invitations.purge]
