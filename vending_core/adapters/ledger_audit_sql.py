"""SQL :class:`~vending_core.service.ledger_ports.LedgerAuditRepository`: the ledger invariants.

Every check is an aggregate the database computes (``GROUP BY ... HAVING`` for the counts per
payment, vend and (meter, TID); ``lag``/``row_number`` window functions for the vendor
ledger chains, which SQLite >= 3.25 and PostgreSQL both have), counted once and listed once
with a ``LIMIT``. Statements are compiled once per dialect (:mod:`vending_core.adapters.driver`)
and run read-only on the unit of work's session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, exists, func, or_, select

from vending_core.adapters import rows as r
from vending_core.adapters import tables as t
from vending_core.adapters import tables_payments as tp
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import Repository
from vending_core.domain.records import IssuedToken
from vending_core.service.ledger_ports import (
    Findings,
    LedgerBreach,
    MisfiledToken,
    PaymentVendBreach,
    TidBreach,
    TokenSetBreach,
    VendTokens,
)

__all__ = ["SqlLedgerAuditRepository"]

_v, _tk, _p, _e = t.vends, t.vend_tokens, tp.payments, t.vendor_entries
_CLIENT: BindParameter[str] = bindparam("k_client")
_LIMIT: BindParameter[int] = bindparam("k_limit")


def _count(query: Select[Any]) -> Statement:
    return Statement(select(func.count()).select_from(query.subquery()))


def _listed(query: Select[Any], *order: Any) -> Statement:
    return Statement(query.order_by(*order).limit(_LIMIT))


def _successful(status: Any) -> Any:
    return or_(status == "paid", status == "vended")


# --- every successful payment has exactly one vend ---------------------------------------
_vend_count = func.count(_v.c.id)
_PAYMENT_BREACHES = (
    select(
        _p.c.id.label("payment_id"),
        _p.c.status,
        _p.c.vend_id.label("recorded_vend_id"),
        _vend_count.label("vends"),
        func.min(_v.c.id).label("first_vend_id"),
    )
    .select_from(_p.outerjoin(_v, and_(_v.c.client_id == _CLIENT, _v.c.request_id == _p.c.id)))
    .where(_successful(_p.c.status))
    .group_by(_p.c.id, _p.c.status, _p.c.vend_id)
    .having(
        or_(
            and_(
                _p.c.status == "vended",
                or_(
                    _vend_count != 1,
                    _p.c.vend_id.is_(None),
                    _p.c.vend_id != func.min(_v.c.id),
                ),
            ),
            and_(_p.c.status == "paid", _vend_count > 1),
        )
    )
)
# Vends made for a payment that is not paid/vended, or for none at all.
_ORPHAN_VENDS = (
    select(
        _v.c.request_id.label("payment_id"),
        _p.c.status,
        _p.c.vend_id.label("recorded_vend_id"),
        _vend_count.label("vends"),
        func.min(_v.c.id).label("first_vend_id"),
    )
    .select_from(_v.outerjoin(_p, _p.c.id == _v.c.request_id))
    .where(_v.c.client_id == _CLIENT, or_(_p.c.id.is_(None), ~_successful(_p.c.status)))
    .group_by(_v.c.request_id, _p.c.status, _p.c.vend_id)
)
_PAYMENTS = (
    (_count(_PAYMENT_BREACHES), _listed(_PAYMENT_BREACHES, _p.c.id)),
    (_count(_ORPHAN_VENDS), _listed(_ORPHAN_VENDS, _v.c.request_id)),
)
_PAYMENTS_CHECKED = Statement(select(func.count()).select_from(_p).where(_successful(_p.c.status)))
_AWAITING = Statement(
    select(func.count())
    .select_from(_p)
    .where(
        _p.c.status == "paid",
        ~exists().where(_v.c.client_id == _CLIENT, _v.c.request_id == _p.c.id),
    )
)

# --- every vend has its tokens, numbered 1..n ----------------------------------------------
_token_count = func.count(_tk.c.sequence)
_TOKEN_SETS = (
    select(
        _v.c.id.label("vend_id"),
        _v.c.kind,
        _v.c.meter_number,
        _token_count.label("tokens"),
        func.min(_tk.c.sequence).label("first_sequence"),
        func.max(_tk.c.sequence).label("last_sequence"),
    )
    .select_from(_v.outerjoin(_tk, _tk.c.vend_id == _v.c.id))
    .group_by(_v.c.id, _v.c.kind, _v.c.meter_number)
    .having(
        or_(
            _token_count == 0,
            func.min(_tk.c.sequence) != 1,
            func.max(_tk.c.sequence) != _token_count,
        )
    )
)
_VENDS_CHECKED = Statement(select(func.count()).select_from(_v))

# --- no two tokens of a meter share a TID ---------------------------------------------------
_with_vend = _tk.join(_v, _v.c.id == _tk.c.vend_id)
_DUPLICATE_TIDS = (
    select(
        _v.c.meter_id,
        func.min(_v.c.meter_number).label("meter_number"),
        _tk.c.tid,
        func.count().label("tokens"),
        func.min(_tk.c.vend_id).label("first_vend_id"),
        func.max(_tk.c.vend_id).label("last_vend_id"),
    )
    .select_from(_with_vend)
    .where(_tk.c.tid.is_not(None))
    .group_by(_v.c.meter_id, _tk.c.tid)
    .having(func.count() > 1)
)
_TID_TOKENS_CHECKED = Statement(select(func.count()).select_from(_tk).where(_tk.c.tid.is_not(None)))
_MISFILED = (
    select(
        _tk.c.vend_id,
        _tk.c.sequence,
        _v.c.meter_id.label("vend_meter_id"),
        _tk.c.meter_id.label("token_meter_id"),
    )
    .select_from(_with_vend)
    .where(_tk.c.meter_id != _v.c.meter_id)
)
_TOKENS_CHECKED = Statement(select(func.count()).select_from(_tk))

# --- vendor balances equal their ledger -----------------------------------------------------
_by_vendor: dict[str, Any] = {"partition_by": _e.c.vendor_id, "order_by": _e.c.id}
_chain = select(
    _e.c.vendor_id,
    _e.c.amount,
    _e.c.balance_after,
    func.row_number().over(**_by_vendor).label("entry"),
    func.lag(_e.c.balance_after).over(**_by_vendor).label("previous"),
).subquery("chain")
_CHAIN_BREAKS = (
    select(
        t.vendors.c.code.label("vendor_code"),
        _chain.c.entry,
        (_chain.c.previous + _chain.c.amount).label("expected"),
        _chain.c.balance_after.label("found"),
    )
    .select_from(_chain.join(t.vendors, t.vendors.c.id == _chain.c.vendor_id))
    .where(
        _chain.c.previous.is_not(None),
        _chain.c.previous + _chain.c.amount != _chain.c.balance_after,
    )
)
_last = (
    select(_e.c.vendor_id, func.max(_e.c.id).label("last_id"))
    .group_by(_e.c.vendor_id)
    .subquery("last")
)
_BALANCE_BREAKS = (
    select(
        t.vendors.c.code.label("vendor_code"),
        _e.c.balance_after.label("expected"),
        t.vendors.c.balance.label("found"),
    )
    .select_from(
        t.vendors.join(_last, _last.c.vendor_id == t.vendors.c.id).join(
            _e, _e.c.id == _last.c.last_id
        )
    )
    .where(_e.c.balance_after != t.vendors.c.balance)
)
_VENDORS_CHECKED = Statement(select(func.count()).select_from(t.vendors))

# --- the vends and their tokens, a page at a time ------------------------------------------
_VEND_PAGE = Statement(
    select(_v.c.id, _v.c.meter_id, _v.c.meter_number, _v.c.kind)
    .where(_v.c.id > bindparam("k_after"))
    .order_by(_v.c.id)
    .limit(_LIMIT)
)
_PAGE_TOKENS = Statement(
    select(_tk)
    .where(_tk.c.vend_id > bindparam("k_after"), _tk.c.vend_id <= bindparam("k_last"))
    .order_by(_tk.c.vend_id, _tk.c.sequence)
)


class SqlLedgerAuditRepository(Repository):
    """``ledger_ports.LedgerAuditRepository`` on the unit of work's session (reads only)."""

    __slots__ = ()

    async def _scalar(self, statement: Statement, **params: Any) -> int:
        row = await self._first(statement, **params)
        return 0 if row is None else int(next(iter(row.values())))

    async def _findings(
        self, queries: tuple[tuple[Statement, Statement], ...], **params: Any
    ) -> tuple[int, list[Row]]:
        violations, rows = 0, []
        for count, listing in queries:
            violations += await self._scalar(count, **params)
            rows += await self._all(listing, **params)
        return violations, rows

    async def payment_vends(self, client_id: str, *, limit: int) -> Findings[PaymentVendBreach]:
        """Paid/vended payments with the wrong vends, then vends of no successful payment."""
        checked = await self._scalar(_PAYMENTS_CHECKED)
        violations, rows = await self._findings(_PAYMENTS, k_client=client_id, k_limit=limit)
        examples = [PaymentVendBreach(**row) for row in rows][:limit]
        return Findings(checked, violations, tuple(examples))

    async def paid_awaiting_vend(self, client_id: str) -> int:
        """Paid payments with no vend (yet)."""
        return await self._scalar(_AWAITING, k_client=client_id)

    async def token_sets(self, *, limit: int) -> Findings[TokenSetBreach]:
        """Vends without tokens, or with tokens not numbered 1..n."""
        checked = await self._scalar(_VENDS_CHECKED)
        violations, rows = await self._findings(_TOKEN_SET_QUERIES, k_limit=limit)
        return Findings(checked, violations, tuple(TokenSetBreach(**row) for row in rows))

    async def duplicate_tids(self, *, limit: int) -> Findings[TidBreach]:
        """(meter, TID) pairs of more than one token."""
        checked = await self._scalar(_TID_TOKENS_CHECKED)
        violations, rows = await self._findings(_DUPLICATE_QUERIES, k_limit=limit)
        return Findings(checked, violations, tuple(TidBreach(**row) for row in rows))

    async def misfiled_tokens(self, *, limit: int) -> Findings[MisfiledToken]:
        """Token rows whose meter is not their vend's."""
        checked = await self._scalar(_TOKENS_CHECKED)
        violations, rows = await self._findings(_MISFILED_QUERIES, k_limit=limit)
        return Findings(checked, violations, tuple(MisfiledToken(**row) for row in rows))

    async def vendor_ledgers(self, *, limit: int) -> Findings[LedgerBreach]:
        """Broken entry chains, then balances that are not the last entry's."""
        checked = await self._scalar(_VENDORS_CHECKED)
        violations, rows = await self._findings(_LEDGERS, k_limit=limit)
        breaches = [LedgerBreach(entry=row.pop("entry", None), **row) for row in rows]
        breaches.sort(key=lambda b: (b.vendor_code, b.entry is None, b.entry or 0))
        return Findings(checked, violations, tuple(breaches[:limit]))

    async def vend_page(self, *, after: int, limit: int) -> list[VendTokens]:
        """The next ``limit`` vends after ``after``, with their tokens (two range reads)."""
        vends = await self._all(_VEND_PAGE, k_after=after, k_limit=limit)
        if not vends:
            return []
        rows = await self._all(_PAGE_TOKENS, k_after=after, k_last=vends[-1]["id"])
        tokens: dict[int, list[IssuedToken]] = {row["id"]: [] for row in vends}
        for row in rows:
            if row["vend_id"] in tokens:
                tokens[row["vend_id"]].append(r.token_from_row(row))
        return [
            VendTokens(
                vend_id=row["id"],
                meter_id=row["meter_id"],
                meter_number=row["meter_number"],
                kind=row["kind"],
                tokens=tuple(tokens[row["id"]]),
            )
            for row in vends
        ]


_TOKEN_SET_QUERIES = ((_count(_TOKEN_SETS), _listed(_TOKEN_SETS, _v.c.id)),)
_DUPLICATE_QUERIES = (
    (_count(_DUPLICATE_TIDS), _listed(_DUPLICATE_TIDS, _v.c.meter_id, _tk.c.tid)),
)
_MISFILED_QUERIES = ((_count(_MISFILED), _listed(_MISFILED, _tk.c.vend_id, _tk.c.sequence)),)
_LEDGERS = (
    (_count(_CHAIN_BREAKS), _listed(_CHAIN_BREAKS, t.vendors.c.code, _chain.c.entry)),
    (_count(_BALANCE_BREAKS), _listed(_BALANCE_BREAKS, t.vendors.c.code)),
)
