"""The SQL repository of scratch-card vouchers and PIN attempts (see :mod:`.payments_sql`).

A voucher is redeemed by a conditional ``UPDATE ... WHERE status = 'active'``: of any number
of concurrent redemptions one changes the row. A batch is inserted with one ``executemany``
and summarised with one ``GROUP BY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, bindparam, case, func, select

from vending_core.adapters import tables_payments as t
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.rows import to_row
from vending_core.adapters.sqlbase import (
    Repository,
    insert_into,
    key_clause,
    select_where,
    update_where,
)
from vending_core.domain.payments import Voucher, VoucherStatus
from vending_core.domain.vouchers import VoucherBatch

__all__ = ["SqlVoucherRepository"]

_VOUCHER_FIELDS: Final = tuple(f.name for f in fields(Voucher) if f.name != "id")

_VOUCHER_INSERT = Statement(
    t.vouchers.insert().returning(t.vouchers.c.id), column_keys=_VOUCHER_FIELDS
)
_VOUCHER_BY_PIN = Statement(select_where(t.vouchers, "pin_hash"))
_VOUCHER_BY_PAYMENT = Statement(select_where(t.vouchers, "payment_id"))
_REDEEM = update_where(
    t.vouchers, "id", "status", columns=("status", "redeemed_at", "redeemed_by", "payment_id")
)
_ATTEMPT_INSERT = insert_into(t.voucher_attempts, skip=("id",))
_FAILURES = Statement(
    select(t.voucher_attempts.c.at)
    .where(key_clause(t.voucher_attempts, "msisdn", "ok"))
    .where(t.voucher_attempts.c.at >= bindparam("k_since"))
    .order_by(t.voucher_attempts.c.at)
)


_VOUCHERS_INSERT = insert_into(t.vouchers, skip=("id",))
_V = t.vouchers.c


def _count_in(status: VoucherStatus) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((_V.status == status.value, 1), else_=0)), 0)


def _value_in(status: VoucherStatus) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((_V.status == status.value, _V.face_value), else_=0)), 0)


_SUMMARY = select(
    _V.batch,
    func.min(_V.currency).label("currency"),
    func.min(_V.face_value).label("face_value"),
    func.count().label("count"),
    _count_in(VoucherStatus.ACTIVE).label("active"),
    _count_in(VoucherStatus.REDEEMED).label("redeemed"),
    _count_in(VoucherStatus.VOID).label("void"),
    func.sum(_V.face_value).label("total_value"),
    _value_in(VoucherStatus.ACTIVE).label("active_value"),
    _value_in(VoucherStatus.REDEEMED).label("redeemed_value"),
    func.min(_V.created_at).label("created_at"),
).group_by(_V.batch)
_BATCHES = Statement(
    _SUMMARY.order_by(func.min(_V.id)).limit(bindparam("lim")).offset(bindparam("off"))
)
_BATCH = Statement(_SUMMARY.where(_V.batch == bindparam("k_batch")))
_IN_BATCH = Statement(
    select_where(t.vouchers, "batch")
    .order_by(_V.serial)
    .limit(bindparam("lim"))
    .offset(bindparam("off"))
)
_VOID = update_where(t.vouchers, "batch", "status", columns=("status",))
_SUMMED: Final = (
    "count",
    "active",
    "redeemed",
    "void",
    "total_value",
    "active_value",
    "redeemed_value",
)


def _batch(row: Row) -> VoucherBatch:
    """A summary row; sums are ``numeric`` on PostgreSQL, hence ``int``."""
    sums = {name: int(row[name]) for name in _SUMMED}
    return VoucherBatch(
        batch=row["batch"],
        currency=row["currency"],
        face_value=int(row["face_value"]),
        created_at=row["created_at"],
        **sums,
    )


def _voucher(row: Row | None) -> Voucher | None:
    if row is None:
        return None
    values = {name: row[name] for name in ("id", *_VOUCHER_FIELDS)}
    values["status"] = VoucherStatus(values["status"])
    return Voucher(**values)


class SqlVoucherRepository(Repository):
    """Scratch-card vouchers and PIN attempts."""

    __slots__ = ()

    async def add(self, voucher: Voucher) -> int:
        """Store a voucher; returns its id."""
        return await self._insert_id(_VOUCHER_INSERT, to_row(voucher))

    async def get_by_pin_hash(self, pin_hash: str) -> Voucher | None:
        """The voucher with that PIN hash."""
        return _voucher(await self._first(_VOUCHER_BY_PIN, k_pin_hash=pin_hash))

    async def get_by_payment(self, payment_id: str) -> Voucher | None:
        """The voucher a payment redeemed."""
        return _voucher(await self._first(_VOUCHER_BY_PAYMENT, k_payment_id=payment_id))

    async def redeem(self, voucher_id: int, *, msisdn: str, payment_id: str, at: datetime) -> bool:
        """``UPDATE ... WHERE id = ? AND status = 'active'``: True if this call redeemed it."""
        params = {
            "status": VoucherStatus.REDEEMED.value,
            "redeemed_at": at,
            "redeemed_by": msisdn,
            "payment_id": payment_id,
            "k_id": voucher_id,
            "k_status": VoucherStatus.ACTIVE.value,
        }
        return await self._execute(_REDEEM, params) == 1

    async def add_attempt(self, msisdn: str, at: datetime, *, ok: bool) -> None:
        """Record a PIN attempt."""
        await self._execute(_ATTEMPT_INSERT, {"msisdn": msisdn, "at": at, "ok": ok})

    async def failures_since(self, msisdn: str, since: datetime) -> list[datetime]:
        """Failed attempt times since ``since``, oldest first."""
        rows = await self._all(_FAILURES, k_msisdn=msisdn, k_ok=False, k_since=since)
        return [row["at"] for row in rows]

    async def add_many(self, vouchers: Sequence[Voucher]) -> None:
        """Insert the cards with one ``executemany``."""
        if vouchers:
            rows = [to_row(voucher) for voucher in vouchers]
            await self._session.execute_many(_VOUCHERS_INSERT, rows)

    async def batches(self, *, limit: int, offset: int) -> list[VoucherBatch]:
        """A page of batch summaries (``GROUP BY batch``), oldest batch first."""
        return [_batch(row) for row in await self._all(_BATCHES, lim=limit, off=offset)]

    async def batch(self, batch: str) -> VoucherBatch | None:
        """One batch's summary; None if it has no card."""
        row = await self._first(_BATCH, k_batch=batch)
        return None if row is None else _batch(row)

    async def in_batch(self, batch: str, *, limit: int, offset: int) -> list[Voucher]:
        """A page of the batch's cards by serial."""
        rows = await self._all(_IN_BATCH, k_batch=batch, lim=limit, off=offset)
        return [voucher for row in rows if (voucher := _voucher(row)) is not None]

    async def void_batch(self, batch: str) -> int:
        """``UPDATE ... SET status = 'void' WHERE batch = ? AND status = 'active'``."""
        params = {
            "status": VoucherStatus.VOID.value,
            "k_batch": batch,
            "k_status": VoucherStatus.ACTIVE.value,
        }
        return await self._execute(_VOID, params)
