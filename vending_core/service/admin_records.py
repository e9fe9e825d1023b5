"""What the back office stores: staff users, their sessions and API keys, the audit log.

Plain values shared by the admin repository port (:mod:`vending_core.service.ports`), its SQL
and memory adapters, and the admin use cases (:mod:`vending_core.service.admin_accounts`).
Secrets are stored only as hashes: a password as its scrypt hash, a bearer token or API key
as its SHA-256.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "AdminLevel",
    "AdminSession",
    "AdminUser",
    "AuditEntry",
    "AuditFilter",
    "SalesLine",
    "UserStatus",
]


class AdminLevel(enum.IntEnum):
    """The four levels, lowest first: a higher level may do all a lower one may."""

    OPERATOR = 1
    POS_MANAGER = 2
    SMS_MANAGER = 3
    ADMINISTRATOR = 4

    @property
    def label(self) -> str:
        """The level's name in the API (``pos_manager``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> AdminLevel:
        """The level named ``label``; ValueError if there is none."""
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown admin level {label!r}") from None


class UserStatus(enum.StrEnum):
    """Whether a user may log in."""

    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(slots=True, kw_only=True)
class AdminUser:
    """A member of staff; ``area`` is a vending point code or SGC (None: everywhere).

    ``scopes`` are route-name patterns (``reports.*``, ``pos.vend``): when there are any, the
    user may use only the routes their level allows *and* one pattern matches; empty: every
    route of their level.
    """

    username: str
    level: AdminLevel
    password_hash: str
    created_at: datetime
    id: int | None = None
    area: str | None = None
    status: UserStatus = UserStatus.ACTIVE
    failed_logins: int = 0
    locked_until: datetime | None = None
    allowed_ips: tuple[str, ...] = ()
    created_by: int | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminSession:
    """A bearer token (``expires_at`` set) or a machine API key (``expires_at`` None)."""

    token_hash: str
    user_id: int
    kind: str  #: "session" or "api_key"
    created_at: datetime
    expires_at: datetime | None = None
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One change or operation: who, when, from where, what, before and after."""

    at: datetime
    user_id: int | None
    remote: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """Which audit entries to list (None: any); ``start`` inclusive, ``end`` exclusive."""

    user_id: int | None = None
    action: str | None = None
    entity: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesLine:
    """One group of the sales report (credit vends): sales, gross and reversals, minor units."""

    key: str
    sales: int
    gross: int
    commission: int
    reversals: int
    reversed_gross: int
