"""The SQL shift repository: open (one per vending point), close, list, and the shift report.

Opening is ``INSERT ... ON CONFLICT (vendor_code) WHERE status = 'open' DO NOTHING
RETURNING id`` against the partial unique index of :mod:`.tables_shifts`: a second open shift
of a vending point is refused by the database, without an error that would abort the
transaction. Closing is one conditional ``UPDATE ... WHERE status = 'open'``. The report is
one ``GROUP BY`` over the vending point's vends in the period (free-issue energy from a
correlated sum over their tokens).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import String, and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import Repository, key_clause, select_where
from vending_core.adapters.tables import vend_tokens, vends
from vending_core.adapters.tables_shifts import OPEN_SHIFT_WHERE, shifts
from vending_core.domain.records import TokenKind, VendKind, VendStatus
from vending_core.service.shift_records import Shift, ShiftLine, ShiftStatus

__all__ = ["SqlShiftRepository"]

_COLUMNS: Final = ("vendor_code", "opened_by", "opened_at", "closed_by", "closed_at", "status")


def _open_statement() -> Statement:
    constructs = {
        name: dialect.insert(shifts)
        .on_conflict_do_nothing(index_elements=["vendor_code"], index_where=OPEN_SHIFT_WHERE)
        .returning(shifts.c.id)
        for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    }
    return Statement(constructs, column_keys=_COLUMNS)


_OPEN: Final = _open_statement()
_GET: Final = Statement(select_where(shifts, "id"))
_CLOSE: Final = Statement(
    update(shifts).where(key_clause(shifts, "id"), shifts.c.status == ShiftStatus.OPEN.value),
    column_keys=("closed_by", "closed_at", "status"),
)
_statements: dict[tuple[bool, bool], Statement] = {}


def _find_statement(present: tuple[bool, bool]) -> Statement:
    found = _statements.get(present)
    if found is None:
        c = shifts.c
        tests = (c.vendor_code == bindparam("vendor_code"), c.status == bindparam("status"))
        wanted = [test for test, on in zip(tests, present, strict=True) if on]
        query = select(shifts).where(*wanted).order_by(c.id.desc())
        query = query.limit(bindparam("lim")).offset(bindparam("off"))
        found = _statements[present] = Statement(query)
    return found


def _report_statement() -> Statement:
    v = vends.c
    credit = v.kind == VendKind.CREDIT.value
    free = v.kind == VendKind.FREE_BASIC.value
    undone = and_(credit, v.status == VendStatus.REVERSED.value)
    free_tenths = (
        select(func.coalesce(func.sum(vend_tokens.c.tenths), 0))
        .where(
            vend_tokens.c.vend_id == v.id,
            vend_tokens.c.kind == TokenKind.FREE_BASIC.value,
        )
        .scalar_subquery()
    )
    operator = func.coalesce(v.operator, literal("", String))

    def total(when: Any, value: Any) -> Any:
        return func.coalesce(func.sum(case((when, value), else_=0)), 0)

    query = (
        select(
            operator.label("operator"),
            total(credit, 1).label("sales"),
            total(credit, v.gross).label("gross"),
            total(free, 1).label("free_issues"),
            total(free, free_tenths).label("free_tenths"),
            total(undone, 1).label("reversals"),
            total(undone, v.gross).label("reversed_gross"),
        )
        .where(
            v.vendor_code == bindparam("vendor_code"),
            v.created_at >= bindparam("start"),
            v.created_at < bindparam("end"),
            or_(credit, free),
        )
        .group_by(operator)
        .order_by(operator)
    )
    return Statement(query)


_REPORT: Final = _report_statement()


def _shift(row: Row) -> Shift:
    return Shift(
        id=row["id"],
        vendor_code=row["vendor_code"],
        opened_by=row["opened_by"],
        opened_at=row["opened_at"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        status=ShiftStatus(row["status"]),
    )


class SqlShiftRepository(Repository):
    """``ports.ShiftRepository`` on the unit of work's session."""

    __slots__ = ()

    async def open(self, shift: Shift) -> int | None:
        """Store the shift as open; its id, or None if its vending point has one open."""
        values = {name: getattr(shift, name) for name in _COLUMNS}
        values["status"] = ShiftStatus.OPEN.value
        row = await self._first(_OPEN, **values)
        return None if row is None else int(row["id"])

    async def get(self, shift_id: int) -> Shift | None:
        """By id."""
        row = await self._first(_GET, k_id=shift_id)
        return None if row is None else _shift(row)

    async def close(self, shift_id: int, *, closed_by: str, closed_at: datetime) -> bool:
        """Close an open shift; False if it is unknown or closed already."""
        values = {
            "k_id": shift_id,
            "closed_by": closed_by,
            "closed_at": closed_at,
            "status": ShiftStatus.CLOSED.value,
        }
        return await self._execute(_CLOSE, values) == 1

    async def find(
        self, *, vendor_code: str | None, status: ShiftStatus | None, limit: int, offset: int
    ) -> list[Shift]:
        """A page of shifts, newest first, filtered by vending point and status."""
        params: dict[str, Any] = {"lim": limit, "off": offset}
        if vendor_code is not None:
            params["vendor_code"] = vendor_code
        if status is not None:
            params["status"] = status.value
        statement = _find_statement((vendor_code is not None, status is not None))
        return [_shift(row) for row in await self._all(statement, **params)]

    async def report(self, vendor_code: str, start: datetime, end: datetime) -> list[ShiftLine]:
        """Per operator, the vending point's vends in ``[start, end)`` (one GROUP BY)."""
        rows = await self._all(_REPORT, vendor_code=vendor_code, start=start, end=end)
        return [
            ShiftLine(
                operator=str(row["operator"]),
                sales=int(row["sales"]),
                gross=int(row["gross"]),
                free_issues=int(row["free_issues"]),
                free_tenths=int(row["free_tenths"]),
                reversals=int(row["reversals"]),
                reversed_gross=int(row["reversed_gross"]),
            )
            for row in rows
        ]
