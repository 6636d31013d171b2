"""The customer's own page (/me): why they have their tier, in plain words;
their rights (export, object, delete); their linked accounts; their pass; and
the invitations stores made for them. Every action leaves an audit line.

No Flask here: :mod:`posplugin.hq.me_web` is the HTTP face. What the join
side holds (sessions, identifiers, consent, linked accounts) is read through
:mod:`posplugin.hq.me_source` only.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, func, insert, select

from ... import texts
from ...errors import Forbidden, NotFound, RateLimited
from ...tiers.policy import Policy
from ...timeutil import iso
from ..schema import me_audit
from . import published
from .invitations import Invitations
from .me_source import CustomerSource, SignedIn
from .passes import PassIssuer

# "Refresh now" asks a platform for fresh figures: a few a day is plenty, and
# each platform counts our calls against the chain's app.
REFRESH_LIMIT = (3, 3600.0)
AUDIT_SHOWN = 20
# The fields the till card shows about a customer (static/till.js, from the
# prompt and the identify answer); /me shows each of them (tested).
CARD_FIELDS = ("service_level", "tier", "followers", "engagement_rate", "engaged_reach", "niches",
               "who", "action", "short_action", "verified")


class MyPage:
    """Everything /me shows and does, for the signed-in customer."""

    def __init__(self, office, source: CustomerSource, policy: Policy, invitations: Invitations):
        self.office = office
        self.engine = office.engine
        self.clock = office.clock
        self.source = source
        self.policy = policy
        self.invitations = invitations
        self.passes = PassIssuer(office.key, office.clock)
        # Days on the page are head office's days (its timezone setting), as on /hq.
        self._tz = getattr(office.figures, "timezone", None)
        # What listening heard from the customer (posplugin.hq.listening.heard.Listening),
        # once the app wires it; None shows nothing heard.
        self.heard = None

    # -- what the page shows --------------------------------------------------

    def overview(self, who: SignedIn, language: str = "en") -> dict:
        """Why this tier (figures, when measured, thresholds, the rule applied,
        what staff see and never see), consent, accounts, invitations due, and
        the recent audit lines."""
        consent = self.source.consent(who.customer_id)
        accounts = [_account_json(a) for a in self.source.accounts(who.customer_id)]
        listed = self.published(who)
        if listed["known"]:  # the niches as the customer reads them, in their language
            listed["interests"] = texts.interests(listed["niches"], language)
        card = self._card(listed, language)
        return {
            "identifiers": [{"type": t} for t, _ in self.source.identifiers(who.customer_id)],
            "consent": consent,
            "accounts": accounts,
            "published": listed,
            "card": card,
            "thresholds": self._thresholds(),
            "why": self._why(accounts, listed, card, consent, language),
            "staff_see": texts.message("me.staff_see", language),
            "staff_never_see": texts.message("me.staff_never_see", language),
            "invitations": self.invitations.due(self._hashes(who), language),
            "heard": self.heard_from(who),
            "audit": self.audit_lines(who.customer_id, AUDIT_SHOWN),
        }

    def published(self, who: SignedIn) -> dict:
        """What stores have for this customer in the current version: the same
        figures their tills would show, or ``known: false``."""
        latest = self.office.latest()
        if latest is None:
            return {"known": False, "version": None, "built_at": None}
        path = self.office.feed_dir / latest["snapshot"]
        for _, id_hash in self.source.identifiers(who.customer_id):
            row = published.find(path, bytes.fromhex(id_hash)) if path.exists() else None
            if row:
                followers, rate, niches = row
                score = self.policy.score(followers, rate)
                return {"known": True, "version": latest["version"], "built_at": iso(latest["created_at"]),
                        "tier": score.tier, "service_level": score.service_level, "followers": followers,
                        "engagement_rate": rate, "engaged_reach": score.engaged_reach, "niches": list(niches)}
        return {"known": False, "version": latest["version"], "built_at": iso(latest["created_at"])}

    def _card(self, listed: dict, language: str) -> dict | None:
        """The till card as a cashier would see it for this customer (without the
        name they give at the till), or None when stores give no prompt."""
        if not listed["known"] or listed["service_level"] == "standard":
            return None
        words = texts.service_prompt(
            level=listed["service_level"], tier=listed["tier"], followers=listed["followers"],
            engagement_rate=listed["engagement_rate"], engaged_reach=listed["engaged_reach"],
            niches=listed["niches"], display_name=None, language=language)
        return {"level": texts.message(f"level.{listed['service_level']}", language),
                "who": words["who"], "action": words["action"], "short_action": words["short_action"],
                "niches": texts.interests(listed["niches"], language),
                "verified": texts.message("me.card_verified", language)}

    def _thresholds(self) -> dict:
        p = self.policy
        return {"tiers": {"nano": p.nano, "micro": p.micro, "macro": p.macro, "mega": p.mega},
                "service_levels": {"priority": p.priority, "murdoch": p.murdoch}}

    def _why(self, accounts, listed, card, consent, language) -> list[str]:
        """The procedure and principles applied to this customer, in sentences."""
        def n(value) -> str:
            return texts.number(value, language)

        def t(key: str, **values) -> str:
            return texts.message(key, language, **values)

        def day(when) -> str:
            return texts.date(when, language, self._tz) if when else ""

        lines = [t("me.why.consent_none")] if consent is None else \
            [t("me.why.consent", given=day(consent.get("given_at")), version=consent["version"])]
        for a in accounts:
            if a.get("listening_only"):
                lines.append(t("me.why.account_listening", account=_account_name(a)))
            elif a["followers"] is None:
                lines.append(t("me.why.account_unmeasured", account=_account_name(a)))
            else:
                lines.append(t("me.why.account", account=_account_name(a),
                               followers=n(a["followers"]),
                               engagement=texts.percent(a["engagement_rate"] or 0, language),
                               measured=day(a["measured_at"])))
        if not accounts:
            lines.append(t("me.why.no_accounts"))
        lines.append(t("me.why.rule"))
        p = self.policy
        lines.append(t("me.why.thresholds", murdoch=n(p.murdoch), priority=n(p.priority), nano=n(p.nano),
                       micro=n(p.micro), macro=n(p.macro), mega=n(p.mega)))
        if listed["known"]:
            lines.append(t("me.why.published", version=listed["version"], built=day(listed["built_at"]),
                           followers=n(listed["followers"]),
                           engagement=texts.percent(listed["engagement_rate"], language),
                           reach=n(listed["engaged_reach"]),
                           level=texts.message(f"level.{listed['service_level']}", language),
                           tier=texts.message(f"tier.{listed['tier']}", language)))
        else:
            lines.append(t("me.why.not_published"))
        lines.append(t("me.why.only_adds"))
        lines.append(t("me.why.pass"))
        return lines

    def pass_for(self, who: SignedIn) -> dict:
        """A fresh pass for the page's QR code. None (:class:`Forbidden`,
        ``no_consent``) without a consent to tiering in force: a customer who
        objected gets no pass from that moment, not from the next version on."""
        consent = self.source.consent(who.customer_id)
        if consent is None or "tiering" not in consent["scopes"]:
            raise Forbidden("no pass while you object to tiering (or never agreed to it): stores give you "
                            "everyday service; give your consent again on /join to have one", code="no_consent")
        return self.passes.issue(bytes.fromhex(who.id_hash))

    # -- rights ---------------------------------------------------------------

    def export(self, who: SignedIn) -> dict:
        """Everything head office holds about the customer (GDPR Art. 15 and 20)."""
        self.audit(who.customer_id, "exported")
        return {"format": "posplugin-me-export/1", "exported_at": iso(self.clock()),
                "customer_id": who.customer_id, **self.source.export(who.customer_id),
                "published": self.published(who),
                "invitations": self.invitations.all_for(self._hashes(who)),
                "heard": self.heard_from(who),
                "audit": self.audit_lines(who.customer_id)}

    def object(self, who: SignedIn) -> dict:
        """Object to tiering (GDPR Art. 21): consent is withdrawn, and the next
        version no longer carries the customer."""
        withdrew = self.source.withdraw(who.customer_id)
        self.audit(who.customer_id, "objected", "consent withdrawn" if withdrew else "no consent in force")
        return {"objected": True, "withdrawn": withdrew, "published": self.published(who)}

    def delete(self, who: SignedIn) -> dict:
        """Delete the customer (GDPR Art. 17): the join side's records and tokens
        (revoked at platforms that offer it), invitations, audit lines; one audit
        line remains, saying that it was deleted."""
        hashes = self._hashes(who)
        if self.heard is not None:
            self.heard.forget_customer(who.customer_id, hashes)
        removed = self.source.erase(who.customer_id)
        invitations = self.invitations.erase(hashes)
        with self.engine.begin() as conn:
            conn.execute(delete(me_audit).where(me_audit.c.customer_id == who.customer_id))
            conn.execute(insert(me_audit).values(customer_id=who.customer_id, at=self.clock(),
                                                 action="deleted",
                                                 detail=f"revoked at: {', '.join(removed['revoked']) or 'none'}"))
        return {"deleted": True, "revoked": removed["revoked"], "invitations": invitations}

    # -- what was heard from them ---------------------------------------------

    def heard_from(self, who: SignedIn) -> list[dict]:
        """The posts listening kept from the customer's linked accounts (text, where, when, about)."""
        return self.heard.of_customer(who.customer_id) if self.heard is not None else []

    def remove_heard(self, who: SignedIn, heard_id: int | None = None) -> dict:
        """Remove one heard post (``heard_id``) or all of them: the text goes,
        and nothing links the rest of the row to the customer any more."""
        removed = self.heard.remove_for_customer(who.customer_id, heard_id) if self.heard is not None else 0
        if heard_id is not None and not removed:
            raise NotFound(f"nothing heard from you with id {heard_id}")
        self.audit(who.customer_id, "heard_removed", str(removed))
        return {"removed": removed, "heard": self.heard_from(who)}

    # -- linked accounts --------------------------------------------------------

    def refresh(self, who: SignedIn, account_id: int) -> dict:
        """Fetch an account's figures now; at most ``REFRESH_LIMIT`` an hour."""
        count, window = REFRESH_LIMIT
        with self.engine.connect() as conn:
            recent = conn.execute(select(func.count()).select_from(me_audit).where(and_(
                me_audit.c.customer_id == who.customer_id, me_audit.c.action == "refreshed",
                me_audit.c.at > self.clock() - window))).scalar_one()
        if recent >= count:
            raise RateLimited(f"at most {count} refreshes an hour; the figures are refreshed weekly anyway")
        account = self.source.refresh(who.customer_id, account_id)
        self.audit(who.customer_id, "refreshed", account["platform"])
        return _account_json(account)

    def unlink(self, who: SignedIn, account_id: int) -> dict:
        """Remove a linked account; its token is revoked where the platform offers it."""
        result = self.source.unlink(who.customer_id, account_id)
        self.audit(who.customer_id, "unlinked",
                   f"{result['platform']}; token revoked at the platform: {'yes' if result['revoked'] else 'no'}")
        return result

    # -- audit ------------------------------------------------------------------

    def audit(self, customer_id: int, action: str, detail: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(me_audit).values(customer_id=customer_id, at=self.clock(), action=action,
                                                 detail=detail))

    def audit_lines(self, customer_id: int, limit: int | None = None) -> list[dict]:
        query = select(me_audit.c.at, me_audit.c.action, me_audit.c.detail).where(
            me_audit.c.customer_id == customer_id).order_by(me_audit.c.id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit) if limit else query).all()
        return [{"at": iso(r.at), "action": r.action, "detail": r.detail} for r in rows]

    def _hashes(self, who: SignedIn) -> list[str]:
        return [h for _, h in self.source.identifiers(who.customer_id)]


def _account_json(account: dict) -> dict:
    measured = account.get("measured_at")
    return {"id": account["id"], "platform": account["platform"], "handle": account.get("handle") or "",
            "followers": account.get("followers"), "engagement_rate": account.get("engagement_rate"),
            "measured_at": iso(measured) if isinstance(measured, (int, float)) else measured,
            "status": account.get("status", "ok")}


def _account_name(account: dict) -> str:
    """A linked account as the customer knows it: the platform and, once known, the handle."""
    return " ".join(part for part in (account["platform"], account["handle"]) if part)
