"""SQL repositories of master data: meters, customers, tariffs, groups, debts, vendors, faults.

Each works on the :class:`~vending_core.adapters.sqlbase.Session` of its unit of work
(:class:`vending_core.adapters.sql.SqlUnitOfWork`), inside that unit of work's transaction.
``lock=True`` adds ``FOR UPDATE`` (PostgreSQL; SQLite renders nothing, its ``BEGIN
IMMEDIATE`` already serialises writers). The ledger (vends, idempotency keys) is in
:mod:`vending_core.adapters.ledger`, meters in :mod:`vending_core.adapters.meters` (re-exported
here); shared plumbing in :mod:`vending_core.adapters.sqlbase`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, update

from vending_core.adapters import rows as r
from vending_core.adapters import tables as t
from vending_core.adapters.driver import Statement
from vending_core.adapters.meters import DEBTS_OUTSTANDING, SqlMeterRepository
from vending_core.adapters.sqlbase import (
    Repository,
    by_id,
    insert_into,
    locked,
    select_where,
    stored_id,
    update_where,
)
from vending_core.domain.model import Customer, Debt, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import MaintenanceRequest, MaintenanceStatus, VendorEntry

__all__ = [
    "SqlCustomerRepository",
    "SqlDebtRepository",
    "SqlMaintenanceRepository",
    "SqlMeterRepository",
    "SqlSupplyGroupRepository",
    "SqlTariffRepository",
    "SqlVendorRepository",
]

_CUSTOMER_INSERT, _CUSTOMER_BY_ID, _CUSTOMER_UPDATE = by_id(t.customers)
_CUSTOMER_BY_ACCOUNT = Statement(select_where(t.customers, "account_number"))


class SqlCustomerRepository(Repository):
    """Customer accounts."""

    __slots__ = ()

    async def get(self, customer_id: int) -> Customer | None:
        """The customer with that id."""
        row = await self._first(_CUSTOMER_BY_ID, k_id=customer_id)
        return None if row is None else r.from_row(Customer, row)

    async def get_by_account(self, account_number: str) -> Customer | None:
        """The customer with that account number."""
        row = await self._first(_CUSTOMER_BY_ACCOUNT, k_account_number=account_number)
        return None if row is None else r.from_row(Customer, row)

    async def add(self, customer: Customer) -> int:
        """Store a new customer; returns its id."""
        return await self._insert_id(_CUSTOMER_INSERT, r.to_row(customer))

    async def update(self, customer: Customer) -> None:
        """Store every field of a stored customer."""
        params = r.to_row(customer) | {"k_id": stored_id(customer.id, "customer")}
        await self._update(_CUSTOMER_UPDATE, params, "customer")


_TARIFF_INSERT = insert_into(t.tariffs)
_TARIFF_CURRENT = Statement(
    select_where(t.tariffs, "code").order_by(t.tariffs.c.version.desc()).limit(1)
)
_TARIFF_VERSION = Statement(select_where(t.tariffs, "code", "version"))


class SqlTariffRepository(Repository):
    """Tariff versions."""

    __slots__ = ()

    async def current(self, code: str) -> Tariff | None:
        """The newest version of the tariff."""
        row = await self._first(_TARIFF_CURRENT, k_code=code)
        return None if row is None else r.tariff_from_row(row)

    async def version(self, code: str, version: int) -> Tariff | None:
        """One version of the tariff."""
        row = await self._first(_TARIFF_VERSION, k_code=code, k_version=version)
        return None if row is None else r.tariff_from_row(row)

    async def add(self, tariff: Tariff) -> None:
        """Store a new version (an existing code and version is refused)."""
        await self._execute(_TARIFF_INSERT, r.tariff_to_row(tariff))


_GROUP_INSERT = insert_into(t.supply_groups)
_GROUP_BY_SGC = Statement(select_where(t.supply_groups, "sgc"))
_GROUP_UPDATE = update_where(t.supply_groups, "sgc")


class SqlSupplyGroupRepository(Repository):
    """Supply groups by SGC."""

    __slots__ = ()

    async def get(self, sgc: str) -> SupplyGroup | None:
        """The supply group with that SGC."""
        row = await self._first(_GROUP_BY_SGC, k_sgc=sgc)
        return None if row is None else r.from_row(SupplyGroup, row)

    async def add(self, group: SupplyGroup) -> None:
        """Store a new supply group."""
        await self._execute(_GROUP_INSERT, r.to_row(group, skip=()))

    async def update(self, group: SupplyGroup) -> None:
        """Store every field of a stored supply group."""
        params = r.to_row(group, skip=("sgc",)) | {"k_sgc": group.sgc}
        await self._update(_GROUP_UPDATE, params, "supply group")


_DEBT_INSERT, _, _DEBT_UPDATE = by_id(t.debts)


class SqlDebtRepository(Repository):
    """Debts of meters."""

    __slots__ = ()

    async def for_meter(self, meter_id: int) -> list[Debt]:
        """Debts with something outstanding, oldest first."""
        found = await self._all(DEBTS_OUTSTANDING, k_meter_id=meter_id)
        return [r.from_row(Debt, row) for row in found]

    async def add(self, debt: Debt) -> int:
        """Store a new debt; returns its id."""
        return await self._insert_id(_DEBT_INSERT, r.to_row(debt))

    async def update(self, debt: Debt) -> None:
        """Store every field of a stored debt."""
        params = r.to_row(debt) | {"k_id": stored_id(debt.id, "debt")}
        await self._update(_DEBT_UPDATE, params, "debt")


_VENDOR_INSERT, _, _VENDOR_UPDATE = by_id(t.vendors)
_VENDOR_BY_CODE = Statement(select_where(t.vendors, "code"))
_VENDOR_BY_CODE_LOCKED = Statement(locked(select_where(t.vendors, "code")))
_ENTRY_INSERT = insert_into(t.vendor_entries, skip=("id",))
_ENTRIES = Statement(select_where(t.vendor_entries, "vendor_id").order_by(t.vendor_entries.c.id))
_NO_FLOOR: Final = -(2**62)  # ``covers`` when any movement is allowed


def _float_moves() -> tuple[Statement, Statement]:
    """The conditional float movement: (PostgreSQL's one statement, SQLite's UPDATE).

    ``UPDATE vendors SET balance = balance + :k_amount WHERE id = :k_id AND balance +
    credit_limit >= :k_covers RETURNING id, balance``: the check and the change are one
    statement, so under PostgreSQL's READ COMMITTED a concurrent sale's committed debit is
    re-read before the condition is judged (the float never goes below its limit), and the
    row is locked only from here to the COMMIT. On PostgreSQL the ledger entry is inserted
    by the same statement (a data-modifying CTE, one round trip); SQLite has no such CTEs,
    and under its single writer the entry follows as a second statement.
    """
    v, e = t.vendors, t.vendor_entries
    money = v.c.balance.type
    moved = (
        update(v)
        .where(
            v.c.id == bindparam("k_id"),
            v.c.balance + v.c.credit_limit >= bindparam("k_covers", type_=money),
        )
        .values(balance=v.c.balance + bindparam("k_amount", type_=money))
        .returning(v.c.id, v.c.balance)
    )
    cte = moved.cte("moved")
    entry = insert(e).from_select(
        ["vendor_id", "at", "amount", "balance_after", "kind", "vend_id"],
        select(
            cte.c.id,
            bindparam("at", type_=e.c.at.type),
            bindparam("amount", type_=money),
            cte.c.balance,
            bindparam("kind", type_=e.c.kind.type),
            bindparam("vend_id", type_=e.c.vend_id.type),
        ),
    )
    return Statement(entry.returning(e.c.balance_after)), Statement(moved)


_MOVE_AND_RECORD, _MOVE = _float_moves()


class SqlVendorRepository(Repository):
    """Vendors and their float ledger."""

    __slots__ = ()

    async def get_by_code(self, code: str, *, lock: bool = False) -> Vendor | None:
        """The vendor with that code (locked until the unit of work ends if ``lock``)."""
        query = _VENDOR_BY_CODE_LOCKED if lock else _VENDOR_BY_CODE
        row = await self._first(query, k_code=code)
        return None if row is None else r.from_row(Vendor, row)

    async def add(self, vendor: Vendor) -> int:
        """Store a new vendor; returns its id."""
        return await self._insert_id(_VENDOR_INSERT, r.to_row(vendor))

    async def update(self, vendor: Vendor) -> None:
        """Store every field of a stored vendor."""
        params = r.to_row(vendor) | {"k_id": stored_id(vendor.id, "vendor")}
        await self._update(_VENDOR_UPDATE, params, "vendor")

    async def add_entry(self, entry: VendorEntry) -> None:
        """Append a movement to the vendor's ledger."""
        await self._execute(_ENTRY_INSERT, r.to_row(entry, skip=()))

    async def move(self, entry: VendorEntry, *, covers: int | None = None) -> int | None:
        """Add ``entry.amount`` to the float and append ``entry`` with the balance after.

        With ``covers``, only if the float (balance plus credit limit) covers that much;
        returns the balance after, or None when it does not (nothing changed).
        """
        keys = {
            "k_id": entry.vendor_id,
            "k_amount": entry.amount,
            "k_covers": _NO_FLOOR if covers is None else covers,
        }
        if self._session.dialect.name == "postgresql":
            values = keys | {
                "at": entry.at,
                "amount": entry.amount,
                "kind": entry.kind,
                "vend_id": entry.vend_id,
            }
            row = await self._first(_MOVE_AND_RECORD, **values)
            return None if row is None else int(row["balance_after"])
        row = await self._first(_MOVE, **keys)
        if row is None:
            return None
        balance = int(row["balance"])
        await self.add_entry(replace(entry, balance_after=balance))
        return balance

    async def entries(self, vendor_id: int) -> list[VendorEntry]:
        """The vendor's ledger, oldest first."""
        found = await self._all(_ENTRIES, k_vendor_id=vendor_id)
        return [r.from_row(VendorEntry, row) for row in found]


_MAINTENANCE_INSERT, _MAINTENANCE_BY_ID, _MAINTENANCE_UPDATE = by_id(t.maintenance_requests)
_MAINTENANCE_BY_ID_LOCKED = Statement(locked(select_where(t.maintenance_requests, "id")))
_MAINTENANCE_FILTERS: Final = ("status", "meter_id", "engineer")
_maintenance_statements: dict[tuple[bool, ...], Statement] = {}


def _maintenance_statement(present: tuple[bool, ...]) -> Statement:
    """The listing for one combination of filters present (built on first use, kept)."""
    found = _maintenance_statements.get(present)
    if found is None:
        c = t.maintenance_requests.c
        wanted = [
            c[name] == bindparam(name)
            for name, on in zip(_MAINTENANCE_FILTERS, present, strict=True)
            if on
        ]
        query = select(t.maintenance_requests).where(*wanted).order_by(c.id)
        query = query.limit(bindparam("lim")).offset(bindparam("off"))
        found = _maintenance_statements[present] = Statement(query)
    return found


class SqlMaintenanceRepository(Repository):
    """Maintenance requests."""

    __slots__ = ()

    async def add(self, request: MaintenanceRequest) -> int:
        """Store a new request; returns its id."""
        return await self._insert_id(_MAINTENANCE_INSERT, r.to_row(request))

    async def get(self, request_id: int, *, lock: bool = False) -> MaintenanceRequest | None:
        """The request with that id (locked until the unit of work ends if ``lock``)."""
        query = _MAINTENANCE_BY_ID_LOCKED if lock else _MAINTENANCE_BY_ID
        row = await self._first(query, k_id=request_id)
        return None if row is None else r.from_row(MaintenanceRequest, row)

    async def update(self, request: MaintenanceRequest) -> None:
        """Store every field of a stored request."""
        params = r.to_row(request) | {"k_id": stored_id(request.id, "maintenance request")}
        await self._update(_MAINTENANCE_UPDATE, params, "maintenance request")

    async def find(
        self,
        *,
        status: MaintenanceStatus | None,
        meter_id: int | None,
        engineer: str | None,
        limit: int,
        offset: int,
    ) -> list[MaintenanceRequest]:
        """A page of requests by id, filtered by status, meter and engineer."""
        values = {
            "status": None if status is None else status.value,
            "meter_id": meter_id,
            "engineer": engineer,
        }
        present = tuple(value is not None for value in values.values())
        params: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        rows = await self._all(_maintenance_statement(present), lim=limit, off=offset, **params)
        return [r.from_row(MaintenanceRequest, row) for row in rows]
