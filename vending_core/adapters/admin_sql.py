"""The SQL repository of the back office: users, sessions and API keys, audit log, reports.

Fixed statements are built once at import (module :mod:`.sqlbase`). The audit listing has
optional filters: one statement per combination of filters present, built on first use and
kept (at most 2**5). The sales report is one ``GROUP BY`` in the database per grouping
(day, channel, vendor); the day is the UTC calendar day of the vend.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
)

from vending_core.adapters import rows as r
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.masterdata_sql import SqlMasterDataQueries
from vending_core.adapters.sqlbase import (
    by_id,
    insert_into,
    locked,
    select_where,
    stored_id,
)
from vending_core.adapters.tables import customers, meters, vends
from vending_core.adapters.tables_admin import admin_sessions, admin_users, audit_log
from vending_core.domain.model import Customer, Meter
from vending_core.domain.records import VendKind, VendStatus
from vending_core.service.admin_records import (
    AdminLevel,
    AdminSession,
    AdminUser,
    AuditEntry,
    AuditFilter,
    SalesLine,
    UserStatus,
)

__all__ = ["SALES_GROUPINGS", "SqlAdminRepository"]

_USER_FIELDS: Final = tuple(f.name for f in fields(AdminUser))
_SESSION_FIELDS: Final = tuple(f.name for f in fields(AdminSession))
_AUDIT_FIELDS: Final = tuple(f.name for f in fields(AuditEntry))

_ADD_USER, _GET_USER, _UPDATE_USER = by_id(admin_users)
_GET_USER_LOCKED = Statement(locked(select_where(admin_users, "id")))
_USER_BY_NAME = Statement(select_where(admin_users, "username"))
_LIST_USERS = Statement(
    select(admin_users).order_by(admin_users.c.id).limit(bindparam("lim")).offset(bindparam("off"))
)
_ADD_SESSION = insert_into(admin_sessions)
_GET_SESSION = Statement(select_where(admin_sessions, "token_hash"))
_DELETE_SESSION = Statement(
    delete(admin_sessions).where(admin_sessions.c.token_hash == bindparam("k_token_hash"))
)
_ADD_AUDIT = insert_into(audit_log, skip=("id",))
_AUDIT_FILTERS: Final = ("user_id", "action", "entity", "start", "end")
_audit_statements: dict[tuple[bool, ...], Statement] = {}
_customer_statements: dict[tuple[bool, bool], Statement] = {}
_METER_FILTERS: Final = ("sgc", "status", "customer_id")
_meter_statements: dict[tuple[bool, ...], Statement] = {}

SALES_GROUPINGS: Final = ("day", "channel", "vendor")


def _user_values(user: AdminUser) -> dict[str, Any]:
    values = {name: getattr(user, name) for name in _USER_FIELDS if name != "id"}
    values["level"] = int(user.level)
    values["status"] = user.status.value
    values["allowed_ips"] = ",".join(user.allowed_ips)
    values["scopes"] = list(user.scopes)  # a JSON list
    return values


def _user(row: Row | None) -> AdminUser | None:
    if row is None:
        return None
    values = {name: row[name] for name in _USER_FIELDS}
    values["level"] = AdminLevel(values["level"])
    values["status"] = UserStatus(values["status"])
    text: str = values["allowed_ips"]
    values["allowed_ips"] = tuple(part for part in text.split(",") if part)
    values["scopes"] = tuple(values["scopes"] or ())
    return AdminUser(**values)


def _audit_statement(present: tuple[bool, ...]) -> Statement:
    found = _audit_statements.get(present)
    if found is None:
        c = audit_log.c
        tests: dict[str, ColumnElement[bool]] = {
            "user_id": c.user_id == bindparam("user_id"),
            "action": c.action == bindparam("action"),
            "entity": c.entity == bindparam("entity"),
            "start": c.at >= bindparam("start"),
            "end": c.at < bindparam("end"),
        }
        wanted = [tests[name] for name, on in zip(_AUDIT_FILTERS, present, strict=True) if on]
        query = (
            select(audit_log)
            .where(*wanted)
            .order_by(c.id)
            .limit(bindparam("lim"))
            .offset(bindparam("off"))
        )
        found = _audit_statements[present] = Statement(query)
    return found


def _customer_statement(present: tuple[bool, bool]) -> Statement:
    found = _customer_statements.get(present)
    if found is None:
        c = customers.c
        tests = (
            func.lower(c.name).like(bindparam("name"), escape="\\"),
            c.account_number.like(bindparam("account"), escape="\\"),
        )
        wanted = [test for test, on in zip(tests, present, strict=True) if on]
        query = select(customers).where(*wanted).order_by(c.id)
        query = query.limit(bindparam("lim")).offset(bindparam("off"))
        found = _customer_statements[present] = Statement(query)
    return found


def _meter_statement(present: tuple[bool, ...]) -> Statement:
    found = _meter_statements.get(present)
    if found is None:
        c = meters.c
        wanted = [
            c[name] == bindparam(name)
            for name, on in zip(_METER_FILTERS, present, strict=True)
            if on
        ]
        query = select(meters).where(*wanted).order_by(c.id)
        query = query.limit(bindparam("lim")).offset(bindparam("off"))
        found = _meter_statements[present] = Statement(query)
    return found


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sales(key: ColumnElement[Any]) -> Any:
    reversed_ = vends.c.status == VendStatus.REVERSED.value
    return (
        select(
            key.label("key"),
            func.count().label("sales"),
            func.coalesce(func.sum(vends.c.gross), 0).label("gross"),
            func.coalesce(func.sum(vends.c.commission), 0).label("commission"),
            func.coalesce(func.sum(case((reversed_, 1), else_=0)), 0).label("reversals"),
            func.coalesce(func.sum(case((reversed_, vends.c.gross), else_=0)), 0).label(
                "reversed_gross"
            ),
        )
        .where(
            vends.c.kind == VendKind.CREDIT.value,
            vends.c.created_at >= bindparam("start"),
            vends.c.created_at < bindparam("end"),
        )
        .group_by(key)
        .order_by(key)
    )


_SALES: Final = {
    "day": Statement(
        {
            "sqlite": _sales(func.substr(vends.c.created_at, 1, 10)),
            "postgresql": _sales(
                func.to_char(func.timezone("UTC", vends.c.created_at), literal("YYYY-MM-DD"))
            ),
        }
    ),
    "channel": Statement(_sales(vends.c.channel)),
    "vendor": Statement(_sales(func.coalesce(vends.c.vendor_code, literal("", String)))),
}


class SqlAdminRepository(SqlMasterDataQueries):
    """Users, sessions and API keys, the audit log, the sales report and master-data lists."""

    __slots__ = ()

    async def add_user(self, user: AdminUser) -> int:
        """Insert a user; its new id (ConstraintViolation if the username is taken)."""
        return await self._insert_id(_ADD_USER, _user_values(user))

    async def get_user(self, user_id: int, *, lock: bool = False) -> AdminUser | None:
        """By id (locked until the unit of work ends if ``lock``)."""
        query = _GET_USER_LOCKED if lock else _GET_USER
        return _user(await self._first(query, k_id=user_id))

    async def get_user_by_name(self, username: str) -> AdminUser | None:
        """By username."""
        return _user(await self._first(_USER_BY_NAME, k_username=username))

    async def list_users(self, *, limit: int, offset: int) -> list[AdminUser]:
        """A page of users by id."""
        rows = await self._all(_LIST_USERS, lim=limit, off=offset)
        return [user for user in map(_user, rows) if user is not None]

    async def update_user(self, user: AdminUser) -> None:
        """Write every field of a stored user."""
        values = {**_user_values(user), "k_id": stored_id(user.id, "admin user")}
        await self._update(_UPDATE_USER, values, "admin user")

    async def add_session(self, session: AdminSession) -> None:
        """Store a token or API key hash."""
        await self._execute(_ADD_SESSION, {n: getattr(session, n) for n in _SESSION_FIELDS})

    async def get_session(self, token_hash: str) -> AdminSession | None:
        """By the token's SHA-256 (hex)."""
        row = await self._first(_GET_SESSION, k_token_hash=token_hash)
        return None if row is None else AdminSession(**{n: row[n] for n in _SESSION_FIELDS})

    async def delete_session(self, token_hash: str) -> bool:
        """Forget a token; False if it was not stored."""
        return await self._execute(_DELETE_SESSION, {"k_token_hash": token_hash}) == 1

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an audit entry (there is no update or delete)."""
        values = {name: getattr(entry, name) for name in _AUDIT_FIELDS if name != "id"}
        await self._execute(_ADD_AUDIT, values)

    async def list_audit(self, query: AuditFilter) -> list[AuditEntry]:
        """The entries matching ``query``, oldest first, one page."""
        values = {name: getattr(query, name) for name in _AUDIT_FILTERS}
        present = tuple(value is not None for value in values.values())
        params = {k: v for k, v in values.items() if v is not None}
        rows = await self._all(
            _audit_statement(present), lim=query.limit, off=query.offset, **params
        )
        return [AuditEntry(**{n: row[n] for n in _AUDIT_FIELDS}) for row in rows]

    async def list_customers(
        self, *, name: str | None, account: str | None, limit: int, offset: int
    ) -> list[Customer]:
        """A page of customers by id: name contains ``name`` (any case), account starts with."""
        params: dict[str, Any] = {"lim": limit, "off": offset}
        if name is not None:
            params["name"] = f"%{_like(name.lower())}%"
        if account is not None:
            params["account"] = f"{_like(account)}%"
        statement = _customer_statement((name is not None, account is not None))
        return [r.from_row(Customer, row) for row in await self._all(statement, **params)]

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
        values = {"sgc": sgc, "status": status, "customer_id": customer_id}
        present = tuple(value is not None for value in values.values())
        params = {k: v for k, v in values.items() if v is not None}
        rows = await self._all(_meter_statement(present), lim=limit, off=offset, **params)
        return [r.from_row(Meter, row) for row in rows]

    async def sales_report(self, start: datetime, end: datetime, by: str) -> list[SalesLine]:
        """Credit sales in ``[start, end)`` grouped by day, channel or vendor (in SQL)."""
        rows = await self._all(_SALES[by], start=start, end=end)
        return [
            SalesLine(
                key=str(row["key"]),
                sales=int(row["sales"]),
                gross=int(row["gross"]),
                commission=int(row["commission"]),
                reversals=int(row["reversals"]),
                reversed_gross=int(row["reversed_gross"]),
            )
            for row in rows
        ]
