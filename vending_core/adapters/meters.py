"""The SQL meter repository, with the one-read meter detail that selling starts from.

:meth:`SqlMeterRepository.get_detail` reads the meter, its customer, the newest version of its
tariff and its outstanding debts in one statement: the meter LEFT JOIN customer LEFT JOIN
tariff (the version found by a correlated ``max``) LEFT JOIN its debts, one row per debt (one
row with NULL debt columns when it has none). The joined columns are labelled
``customer__<column>``, ``tariff__<column>`` and ``debt__<column>``.

With ``lock`` on PostgreSQL the detail is read ``FOR UPDATE OF meters`` (the meter row only,
never the shared tariff or customer rows) and the debts by a second statement: at READ
COMMITTED a statement that waited for the lock sees the meter as the lock holder left it,
but every other table as it was when the statement began, so debts read in the same
statement could miss what the previous vend of the meter recovered. SQLite holds the
database's write lock from ``BEGIN IMMEDIATE`` on, before any read, so one statement is exact.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select

from vending_core.adapters import rows as r
from vending_core.adapters import tables as t
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import (
    Repository,
    by_id,
    insert_into,
    locked,
    select_where,
    stored_id,
)
from vending_core.domain.model import Customer, Debt, Meter
from vending_core.domain.records import MeterEvent
from vending_core.service.ports import MeterDetail

__all__ = ["DEBTS_OUTSTANDING", "SqlMeterRepository"]

#: A meter's debts with something outstanding, oldest first.
DEBTS_OUTSTANDING = Statement(
    select_where(t.debts, "meter_id").where(t.debts.c.outstanding > 0).order_by(t.debts.c.id)
)

_METER_INSERT, _METER_BY_ID, _METER_UPDATE = by_id(t.meters)
_BY_NUMBER_OR_PAN = or_(
    t.meters.c.number == bindparam("k_number"), t.meters.c.pan == bindparam("k_number")
)
_METER_BY_NUMBER = select(t.meters).where(_BY_NUMBER_OR_PAN)
_METER_BY_NUMBER_PLAIN = Statement(_METER_BY_NUMBER)
_METER_BY_ID_LOCKED = Statement(locked(select_where(t.meters, "id")))
_METER_BY_NUMBER_LOCKED = Statement(locked(_METER_BY_NUMBER))
_EVENT_INSERT = insert_into(t.meter_events, skip=("id",))
_EVENTS = Statement(select_where(t.meter_events, "meter_id").order_by(t.meter_events.c.id))

_CUSTOMER, _TARIFF, _DEBT = "customer__", "tariff__", "debt__"
_newest = t.tariffs.alias("newest")
_NEWEST_VERSION = (
    select(func.max(_newest.c.version))
    .where(_newest.c.code == t.meters.c.tariff_code)
    .scalar_subquery()
)
_WITH_CUSTOMER_AND_TARIFF = t.meters.outerjoin(
    t.customers, t.customers.c.id == t.meters.c.customer_id
).outerjoin(
    t.tariffs,
    and_(t.tariffs.c.code == t.meters.c.tariff_code, t.tariffs.c.version == _NEWEST_VERSION),
)
_DETAIL_COLUMNS: tuple[Any, ...] = (
    t.meters,
    *(column.label(_CUSTOMER + column.name) for column in t.customers.columns),
    *(column.label(_TARIFF + column.name) for column in t.tariffs.columns),
)
_DETAIL = Statement(
    select(*_DETAIL_COLUMNS, *(column.label(_DEBT + column.name) for column in t.debts.columns))
    .select_from(
        _WITH_CUSTOMER_AND_TARIFF.outerjoin(
            t.debts, and_(t.debts.c.meter_id == t.meters.c.id, t.debts.c.outstanding > 0)
        )
    )
    .where(_BY_NUMBER_OR_PAN)
    .order_by(t.meters.c.id, t.debts.c.id)
)
_DETAIL_LOCKED_WITHOUT_DEBTS = Statement(
    locked(
        select(*_DETAIL_COLUMNS).select_from(_WITH_CUSTOMER_AND_TARIFF).where(_BY_NUMBER_OR_PAN),
        t.meters,
    )
)


def _number_first(rows: list[Row], number: str) -> Row | None:
    """The row whose number is ``number``, else the first (one whose PAN is; None: no row)."""
    for row in rows:
        if row["number"] == number:
            return row
    return rows[0] if rows else None


def _detail(row: Row, debts: list[Debt]) -> MeterDetail:
    customer = None
    if row[_CUSTOMER + "id"] is not None:
        customer = r.from_row(Customer, row, prefix=_CUSTOMER)
    tariff = None
    if row[_TARIFF + "code"] is not None:
        tariff = r.tariff_from_row(row, prefix=_TARIFF)
    return MeterDetail(r.from_row(Meter, row), customer, tariff, tuple(debts))


class SqlMeterRepository(Repository):
    """Meters and their events."""

    __slots__ = ()

    async def get(self, meter_id: int, *, lock: bool = False) -> Meter | None:
        """The meter with that id (locked until the unit of work ends if ``lock``)."""
        query = _METER_BY_ID_LOCKED if lock else _METER_BY_ID
        row = await self._first(query, k_id=meter_id)
        return None if row is None else r.from_row(Meter, row)

    async def get_by_number(self, number: str, *, lock: bool = False) -> Meter | None:
        """Find by printed number (DRN) or by 18-digit PAN; a number match wins."""
        query = _METER_BY_NUMBER_LOCKED if lock else _METER_BY_NUMBER_PLAIN
        row = _number_first(await self._all(query, k_number=number), number)
        return None if row is None else r.from_row(Meter, row)

    async def get_detail(self, number: str, *, lock: bool = False) -> MeterDetail | None:
        """As ``get_by_number``, with customer, tariff and debts (see the module docstring)."""
        if lock and self._session.dialect.name != "sqlite":  # row locks: debts after the lock
            found = await self._all(_DETAIL_LOCKED_WITHOUT_DEBTS, k_number=number)
            row = _number_first(found, number)
            if row is None:
                return None
            found = await self._all(DEBTS_OUTSTANDING, k_meter_id=row["id"])
            return _detail(row, [r.from_row(Debt, debt) for debt in found])
        rows = await self._all(_DETAIL, k_number=number)
        row = _number_first(rows, number)
        if row is None:
            return None
        debts = [
            r.from_row(Debt, each, prefix=_DEBT)
            for each in rows
            if each["id"] == row["id"] and each[_DEBT + "id"] is not None
        ]
        return _detail(row, debts)

    async def add(self, meter: Meter) -> int:
        """Store a new meter; returns its id."""
        return await self._insert_id(_METER_INSERT, r.to_row(meter))

    async def update(self, meter: Meter) -> None:
        """Store every field of a stored meter."""
        params = r.to_row(meter) | {"k_id": stored_id(meter.id, "meter")}
        await self._update(_METER_UPDATE, params, "meter")

    async def add_event(self, event: MeterEvent) -> None:
        """Append an event to the meter's history."""
        await self._execute(_EVENT_INSERT, r.to_row(event, skip=()))

    async def events(self, meter_id: int) -> list[MeterEvent]:
        """The meter's events, oldest first."""
        return [
            r.from_row(MeterEvent, row) for row in await self._all(_EVENTS, k_meter_id=meter_id)
        ]
