"""The in-memory twin of the back-office repository.

Its rows live in :class:`AdminTables`, one field of the memory database's tables, so the memory
unit of work copies, commits and rolls them back with everything else. As in the SQL schema,
usernames are unique and the audit log is append-only. The sales report reads the memory
vends (a loop is what a twin can do; the SQL adapter groups in the database).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from vending_core.adapters.memory_masterdata import MasterTables, MemoryMasterDataQueries
from vending_core.domain.model import Customer, Meter
from vending_core.domain.records import Vend, VendKind, VendStatus
from vending_core.service.admin_records import (
    AdminSession,
    AdminUser,
    AuditEntry,
    AuditFilter,
    SalesLine,
)

__all__ = ["AdminTables", "DuplicateUsernameError", "MemoryAdminRepository"]


class DuplicateUsernameError(Exception):
    """The username is taken (the database's unique constraint refuses it)."""


@dataclass
class AdminTables:
    """The back-office rows of one memory database."""

    users: dict[int, AdminUser] = field(default_factory=dict)
    sessions: dict[str, AdminSession] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    next_id: int = 1


def _key(vend: Vend, by: str) -> str:
    if by == "day":
        return vend.created_at.astimezone(UTC).date().isoformat()
    if by == "channel":
        return vend.channel
    return vend.vendor_code or ""


def _matches(entry: AuditEntry, query: AuditFilter) -> bool:
    return (
        (query.user_id is None or entry.user_id == query.user_id)
        and (query.action is None or entry.action == query.action)
        and (query.entity is None or entry.entity == query.entity)
        and (query.start is None or entry.at >= query.start)
        and (query.end is None or entry.at < query.end)
    )


class MemoryAdminRepository(MemoryMasterDataQueries):
    """``ports.AdminRepository`` over :class:`AdminTables`, the memory vends and master data."""

    def __init__(
        self,
        tables: AdminTables,
        vends: Callable[[], Iterable[Vend]],
        customers: Callable[[], Iterable[Customer]],
        meters: Callable[[], Iterable[Meter]],
        master: MasterTables,
    ) -> None:
        self._t = tables
        self._master = master
        self._vends = vends
        self._customers = customers
        self._meters = meters

    async def add_user(self, user: AdminUser) -> int:
        """Insert a user; its new id."""
        if any(u.username == user.username for u in self._t.users.values()):
            raise DuplicateUsernameError(f"username {user.username!r} is taken")
        new_id, self._t.next_id = self._t.next_id, self._t.next_id + 1
        self._t.users[new_id] = replace(copy.deepcopy(user), id=new_id)
        return new_id

    async def get_user(self, user_id: int, *, lock: bool = False) -> AdminUser | None:
        """By id (a copy; ``lock`` needs nothing: units of work here run one at a time)."""
        return copy.deepcopy(self._t.users.get(user_id))

    async def get_user_by_name(self, username: str) -> AdminUser | None:
        """By username (a copy)."""
        found = (u for u in self._t.users.values() if u.username == username)
        return copy.deepcopy(next(found, None))

    async def list_users(self, *, limit: int, offset: int) -> list[AdminUser]:
        """A page of users by id."""
        ordered = [self._t.users[k] for k in sorted(self._t.users)]
        return copy.deepcopy(ordered[offset : offset + limit])

    async def update_user(self, user: AdminUser) -> None:
        """Write every field of a stored user (KeyError if it was never stored)."""
        if user.id is None or user.id not in self._t.users:
            raise KeyError("no admin user to update")
        self._t.users[user.id] = copy.deepcopy(user)

    async def add_session(self, session: AdminSession) -> None:
        """Store a token or API key hash."""
        self._t.sessions[session.token_hash] = session

    async def get_session(self, token_hash: str) -> AdminSession | None:
        """By the token's SHA-256 (hex)."""
        return self._t.sessions.get(token_hash)

    async def delete_session(self, token_hash: str) -> bool:
        """Forget a token; False if it was not stored."""
        return self._t.sessions.pop(token_hash, None) is not None

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an audit entry."""
        self._t.audit.append(replace(copy.deepcopy(entry), id=len(self._t.audit) + 1))

    async def list_audit(self, query: AuditFilter) -> list[AuditEntry]:
        """The entries matching ``query``, oldest first, one page."""
        found = [e for e in self._t.audit if _matches(e, query)]
        return copy.deepcopy(found[query.offset : query.offset + query.limit])

    async def list_customers(
        self, *, name: str | None, account: str | None, limit: int, offset: int
    ) -> list[Customer]:
        """A page of customers by id: name contains ``name`` (any case), account starts with."""
        found = sorted(
            (
                c
                for c in self._customers()
                if (name is None or name.lower() in c.name.lower())
                and (account is None or c.account_number.startswith(account))
            ),
            key=lambda c: c.id or 0,
        )
        return copy.deepcopy(found[offset : offset + limit])

    async def list_meters(
        self,
        *,
        sgc: str | None,
        status: str | None,
        customer_id: int | None,
        limit: int,
        offset: int,
    ) -> list[Meter]:
        """A page of meters by id, filtered by supply group, status and customer."""
        found = sorted(
            (
                m
                for m in self._meters()
                if (sgc is None or m.sgc == sgc)
                and (status is None or m.status.value == status)
                and (customer_id is None or m.customer_id == customer_id)
            ),
            key=lambda m: m.id or 0,
        )
        return copy.deepcopy(found[offset : offset + limit])

    async def sales_report(self, start: datetime, end: datetime, by: str) -> list[SalesLine]:
        """Credit sales in ``[start, end)`` grouped by day, channel or vendor."""
        groups: dict[str, list[Vend]] = {}
        for vend in self._vends():
            if vend.kind is VendKind.CREDIT and start <= vend.created_at < end:
                groups.setdefault(_key(vend, by), []).append(vend)
        return [_line(key, groups[key]) for key in sorted(groups)]


def _line(key: str, group: list[Vend]) -> SalesLine:
    undone = [v for v in group if v.status is VendStatus.REVERSED]
    return SalesLine(
        key=key,
        sales=len(group),
        gross=sum(v.gross for v in group),
        commission=sum(v.commission for v in group),
        reversals=len(undone),
        reversed_gross=sum(v.gross for v in undone),
    )
