"""The back office's repository port (kept apart so ``ports.py`` stays small).

``UnitOfWork.admin`` is an :class:`AdminRepository`: staff users, the SHA-256 of their bearer
tokens and API keys, the append-only audit log, and the sales report, which the SQL adapter
computes with one ``GROUP BY`` in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vending_core.domain.model import Customer, Meter
from vending_core.service.admin_records import (
    AdminSession,
    AdminUser,
    AuditEntry,
    AuditFilter,
    SalesLine,
)
from vending_core.service.masterdata_ports import MasterDataQueries

__all__ = ["AdminRepository"]


class AdminRepository(MasterDataQueries, Protocol):
    """Users (unique usernames), sessions by token hash, audit entries (append-only)."""

    async def add_user(self, user: AdminUser) -> int:
        """Insert a user; its new id."""
        ...

    async def get_user(self, user_id: int, *, lock: bool = False) -> AdminUser | None:
        """By id; ``lock`` holds the row until the unit of work ends (read, change, write)."""
        ...

    async def get_user_by_name(self, username: str) -> AdminUser | None:
        """By username."""
        ...

    async def list_users(self, *, limit: int, offset: int) -> list[AdminUser]:
        """A page of users by id."""
        ...

    async def update_user(self, user: AdminUser) -> None:
        """Write every field of a stored user."""
        ...

    async def add_session(self, session: AdminSession) -> None:
        """Store a token or API key hash."""
        ...

    async def get_session(self, token_hash: str) -> AdminSession | None:
        """By the token's SHA-256 (hex)."""
        ...

    async def delete_session(self, token_hash: str) -> bool:
        """Forget a token; False if it was not stored."""
        ...

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an audit entry."""
        ...

    async def list_audit(self, query: AuditFilter) -> list[AuditEntry]:
        """Matching entries, oldest first, one page."""
        ...

    async def list_customers(
        self, *, name: str | None, account: str | None, limit: int, offset: int
    ) -> list[Customer]:
        """A page of customers by id: name contains ``name`` (any case), account starts with."""
        ...

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
        ...

    async def sales_report(self, start: datetime, end: datetime, by: str) -> list[SalesLine]:
        """Credit sales in ``[start, end)`` grouped by ``day``, ``channel`` or ``vendor``."""
        ...
