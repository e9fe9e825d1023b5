"""The SQL reports: one aggregate query (``GROUP BY``) per report and grouping.

Each statement is built on first use for both dialects and kept (at most one per report and
grouping). Periods are UTC calendar days, months and years: on SQLite the leading characters
of the stored UTC text (``YYYY-MM-DD HH:MM:SS``), on PostgreSQL ``to_char`` of the instant at
UTC. Values that exist only in a vend's stored receipt (``breakdown`` JSON) are read with the
database's JSON functions: ``json_extract``/``json_each`` on SQLite, ``->>``/``#>>``/
``jsonb_array_elements`` on PostgreSQL:

* VAT is the receipt's VAT line, ``breakdown.lines[1][1]`` (``Breakdown.lines()`` puts the
  one VAT line second: energy, fixed, service and taxed debt VAT together), so the report
  shows the VAT printed on the receipts;
* units are ``credit_tenths``, free issue ``fbe_tenths``;
* debt recovered is each element of ``debt_lines`` (``debt_id``, ``amount``, ``vat``).

On PostgreSQL each report turns JIT compilation off for its transaction (``set_config('jit',
'off', true)``): the planner overestimates the JSON expansion's rows, and compiling and
inlining then cost more (over a second, measured) than the query itself.

Indexes (migration ``0008``): ``vends.created_at`` (0006) bounds the vend reports to the
period; ``vends.reversed_at``, ``meters.last_purchase_at``, ``maintenance_requests.opened_at``
and ``resolved_at`` serve the reversal, idle-meter and maintenance reports; payments are found
by ``(status, created_at)`` (0002).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import FromClause

from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import Repository
from vending_core.adapters.tables import customers, maintenance_requests, meters, vends
from vending_core.adapters.tables_admin import admin_users, audit_log
from vending_core.adapters.tables_payments import payments
from vending_core.domain.payments import PaymentStatus
from vending_core.domain.records import VendKind, VendStatus
from vending_core.service.payments import PAYMENT_CLIENT_ID
from vending_core.service.report_records import (
    HISTORY_MONTHS,
    PERIODS,
    RECENT_DAYS,
    AbnormalMeter,
    DebtRecoveryLine,
    FreeIssueLine,
    IdleMeter,
    MaintenanceLine,
    ReconciliationLine,
    ReprintLine,
    ReversalLine,
    VendingLine,
    abnormal_meter,
    history_window,
)

__all__ = ["SqlReportRepository", "statement"]

_DIALECTS: Final = ("sqlite", "postgresql")
_SIZES: Final = {"day": 10, "month": 7, "year": 4}  #: leading characters of an ISO time
_statements: dict[tuple[str, str], Statement] = {}

Build = Callable[[str, str], Select[Any]]
Key = ColumnElement[Any]


def _period(when: ColumnElement[Any], by: str, dialect: str) -> Key:
    """The UTC day, month or year of ``when``: text on SQLite, a timestamp on PostgreSQL.

    On PostgreSQL the unit and zone are SQL constants, not parameters, so the expression is
    the one the extended statistics of migration ``0008`` describe, even in a generic plan.
    """
    if dialect == "sqlite":
        return func.substr(when, 1, _SIZES[by], type_=String)
    utc = func.timezone(literal_column("'UTC'"), when)
    return func.date_trunc(literal_column(f"'{by}'"), utc, type_=DateTime())


def _total(value: ColumnElement[Any]) -> ColumnElement[int]:
    return func.coalesce(func.sum(value), 0)


def _in_period(when: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(when >= bindparam("start"), when < bindparam("end"))


def _json_int(document: ColumnElement[Any], path: str | tuple[str | int, ...]) -> Key:
    """An integer inside a JSON document (``json_extract``; ``->>``/``#>>`` and a cast)."""
    value: Key = document[path].as_integer()
    return value


_VAT: Final = _json_int(vends.c.breakdown, ("lines", 1, 1))
_COMPLETED: Final = vends.c.status == VendStatus.COMPLETED.value


def _vend_key(by: str, dialect: str) -> Key:
    v = vends.c
    if by in PERIODS:
        return _period(v.created_at, by, dialect)
    keys: dict[str, Key] = {
        "channel": v.channel,
        "vendor": func.coalesce(v.vendor_code, literal("", String)),
        "operator": func.coalesce(v.operator, literal("", String)),
        "sgc": meters.c.sgc,
        "ti": meters.c.ti,
    }
    return keys[by]


def _vends_from(by: str) -> FromClause:
    """The vends, joined to their meters when grouped by a meter's SGC or TI."""
    if by in {"sgc", "ti"}:
        return vends.join(meters, meters.c.id == vends.c.meter_id)
    return vends


def _grouped(key: Key, *columns: ColumnElement[Any]) -> Select[Any]:
    return select(key.label("key"), *columns).group_by(key).order_by(key.nulls_first())


def _vending(by: str, dialect: str) -> Select[Any]:
    v = vends.c
    return (
        _grouped(
            _vend_key(by, dialect),
            func.count().label("sales"),
            _total(v.gross).label("gross"),
            _total(_VAT).label("vat"),
            (_total(v.gross) - _total(_VAT)).label("net"),
            _total(v.commission).label("commission"),
            _total(_json_int(v.breakdown, "credit_tenths")).label("units"),
        )
        .select_from(_vends_from(by))
        .where(v.kind == VendKind.CREDIT.value, _COMPLETED, _in_period(v.created_at))
    )


def _free_issue(by: str, dialect: str) -> Select[Any]:
    v = vends.c
    fbe = _json_int(v.breakdown, "fbe_tenths")
    alone = case((v.kind == VendKind.FREE_BASIC.value, 1), else_=0)
    kinds = (VendKind.CREDIT.value, VendKind.FREE_BASIC.value)
    return (
        _grouped(
            _vend_key(by, dialect),
            func.count().label("issues"),
            _total(fbe).label("units"),
            _total(alone).label("claimed_alone"),
        )
        .select_from(_vends_from(by))
        .where(
            or_(v.kind == kinds[0], v.kind == kinds[1]),
            _COMPLETED,
            _in_period(v.created_at),
            fbe > 0,
        )
    )


def _debt_lines(dialect: str) -> FromClause:
    """The elements of each vend's ``debt_lines``, as a lateral table ``d(value)``."""
    if dialect == "postgresql":
        elements = func.jsonb_array_elements(vends.c.breakdown["debt_lines"])
        return elements.table_valued(column("value", JSONB)).lateral("d")
    return (
        func.json_each(vends.c.breakdown, "$.debt_lines")
        .table_valued(column("value", JSON))
        .alias("d")
    )


def _has_debt_lines(dialect: str) -> ColumnElement[bool]:
    """Whether the vend recovered debt (skips expanding the 19 in 20 empty lists)."""
    if dialect == "postgresql":
        return func.jsonb_array_length(vends.c.breakdown["debt_lines"]) > 0
    return func.json_array_length(vends.c.breakdown, "$.debt_lines") > 0


def _debt(by: str, dialect: str) -> Select[Any]:
    v = vends.c
    lines = _debt_lines(dialect)
    value = lines.c.value
    amount, vat = _json_int(value, "amount"), _json_int(value, "vat")
    key = _json_int(value, "debt_id") if by == "debt" else _vend_key(by, dialect)
    return (
        _grouped(
            key,
            func.count().label("recoveries"),
            _total(amount).label("amount"),
            _total(vat).label("vat"),
            (_total(amount) - _total(vat)).label("net"),
        )
        .select_from(vends.join(lines, true()))
        .where(
            v.kind == VendKind.CREDIT.value,
            _COMPLETED,
            _in_period(v.created_at),
            _has_debt_lines(dialect),
        )
    )


def _reversals(by: str, dialect: str) -> Select[Any]:
    v = vends.c
    if by in PERIODS:
        key = _period(v.reversed_at, by, dialect)
    elif by == "operator":
        key = func.coalesce(v.reversed_by, literal("", String))
    else:
        key = _vend_key(by, dialect)
    return _grouped(
        key,
        func.count().label("reversals"),
        _total(v.gross).label("gross"),
        _total(_VAT).label("vat"),
        _total(v.commission).label("commission"),
    ).where(v.status == VendStatus.REVERSED.value, _in_period(v.reversed_at))


def _reprints(by: str, dialect: str) -> Select[Any]:
    a = audit_log.c
    if by in PERIODS:
        key = _period(a.at, by, dialect)
        source: FromClause = audit_log
    else:
        key = func.coalesce(admin_users.c.username, literal("", String))
        source = audit_log.outerjoin(admin_users, admin_users.c.id == a.user_id)
    return (
        _grouped(key, func.count().label("reprints"))
        .select_from(source)
        .where(a.action == "pos.reprint", _in_period(a.at))
    )


def _maintenance(by: str, dialect: str) -> Select[Any]:
    m = maintenance_requests.c

    def side(when: ColumnElement[Any], opened: int) -> Select[Any]:
        key = m.status if by == "status" else _period(when, by, dialect)
        flags: list[ColumnElement[Any]] = [
            literal(opened, Integer).label("opened"),
            literal(1 - opened, Integer).label("resolved"),
        ]
        return select(key.label("key"), *flags).where(_in_period(when))

    both = union_all(side(m.opened_at, 1), side(m.resolved_at, 0)).subquery("events")
    return _grouped(
        both.c.key, _total(both.c.opened).label("opened"), _total(both.c.resolved).label("resolved")
    )


_RECONCILED: Final = (
    "paid_not_vended",
    "paid_not_vended_amount",
    "vended_not_paid",
    "vended_not_paid_gross",
    "mismatched",
    "mismatch",
    "conflicts",
    "conflict_amount",
)


def _category(key: Key, index: int, amount: ColumnElement[Any]) -> Select[Any]:
    """One kind of disagreement as a row of the union: 1 and the amount in its two columns."""
    values: list[ColumnElement[Any]] = [literal(0, BigInteger)] * len(_RECONCILED)
    values[2 * index], values[2 * index + 1] = literal(1, BigInteger), amount
    return select(key.label("key"), *(v.label(n) for v, n in zip(values, _RECONCILED, strict=True)))


def _reconciliation(by: str, dialect: str) -> Select[Any]:
    p, v = payments.c, vends.c

    def key(when: ColumnElement[Any], channel: ColumnElement[Any]) -> Key:
        return channel if by == "channel" else _period(when, by, dialect)

    pay_key = key(p.created_at, p.channel)
    taken = (PaymentStatus.PAID.value, PaymentStatus.VENDED.value)
    settled = exists().where(p.id == v.request_id, or_(p.status == taken[0], p.status == taken[1]))
    rows = union_all(
        _category(pay_key, 0, p.amount).where(
            p.status == PaymentStatus.PAID.value, _in_period(p.created_at)
        ),
        _category(key(v.created_at, v.channel), 1, v.gross).where(
            v.client_id == PAYMENT_CLIENT_ID, _in_period(v.created_at), ~settled
        ),
        _category(pay_key, 2, p.amount - v.gross)
        .select_from(payments.join(vends, v.id == p.vend_id))
        .where(
            p.status == PaymentStatus.VENDED.value, _in_period(p.created_at), p.amount != v.gross
        ),
        _category(pay_key, 3, p.amount).where(
            p.status == PaymentStatus.CONFLICT.value, _in_period(p.created_at)
        ),
    ).subquery("disagreements")
    return _grouped(rows.c.key, *(_total(rows.c[name]).label(name) for name in _RECONCILED))


_IDLE_COLUMNS: Final = (
    meters.c.number.label("meter_number"),
    meters.c.sgc,
    meters.c.ti,
    meters.c.status,
    meters.c.fbe_registered,
    meters.c.customer_id,
    customers.c.account_number,
    customers.c.name.label("customer_name"),
    meters.c.last_purchase_at,
)
_OWNED: Final = meters.outerjoin(customers, customers.c.id == meters.c.customer_id)
_IS_IDLE: Final = or_(
    meters.c.last_purchase_at.is_(None), meters.c.last_purchase_at < bindparam("before")
)

_IDLE: Final = Statement(
    select(*_IDLE_COLUMNS)
    .select_from(_OWNED)
    .where(_IS_IDLE)
    .order_by(meters.c.last_purchase_at.nulls_first(), meters.c.id)
    .limit(bindparam("lim"))
    .offset(bindparam("off"))
)


def _counted(condition: ColumnElement[bool], value: ColumnElement[Any] | int) -> Key:
    """The sum of ``value`` over the group's rows that meet ``condition`` (0 if none)."""
    return _total(case((condition, value), else_=0))


def _abnormal() -> Select[Any]:
    """Meters idle or below ``:below`` % of their history: one ``GROUP BY`` over the vends.

    The aggregate covers completed credit and free-basic vends in ``[:history_start, :now)``
    (the 12 history months and the recent days after them), joined to every meter; the
    monthly average is an integer division on both databases (``bigint / integer``).
    """
    c = vends.c
    # The vends of the window with only what the sums need, behind OFFSET 0 so PostgreSQL
    # keeps the projection: grouped directly, it sorted whole rows (the receipt JSON included:
    # ~750 MB spilled to disk for a year of 1,000,000 vends, 2.2 s against 0.9 s).
    window = (
        select(
            c.meter_id,
            c.created_at,
            (c.kind == VendKind.CREDIT.value).label("credit"),
            _json_int(c.breakdown, "credit_tenths").label("tenths"),
        )
        .where(
            or_(c.kind == VendKind.CREDIT.value, c.kind == VendKind.FREE_BASIC.value),
            _COMPLETED,
            c.created_at >= bindparam("history_start"),
            c.created_at < bindparam("now"),
        )
        .offset(0)
        .subquery("window")
    )
    v = window.c
    credit = v.credit.is_(True)
    in_history = v.created_at < bindparam("history_end")
    usage = (
        select(
            v.meter_id,
            _counted(and_(credit, in_history), v.tenths).label("history_tenths"),
            _counted(and_(credit, v.created_at >= bindparam("recent")), v.tenths).label(
                "recent_tenths"
            ),
            _counted(and_(credit, in_history), 1).label("credits"),
            _counted(and_(v.credit.is_(False), in_history), 1).label("free_issues"),
        )
        .group_by(v.meter_id)
        .subquery("usage")
    )
    u = usage.c
    history = func.coalesce(u.history_tenths, 0)
    recent = func.coalesce(u.recent_tenths, 0)
    average = history // HISTORY_MONTHS
    below = and_(average > 0, recent * 100 < bindparam("below", type_=BigInteger) * average)
    return (
        select(
            *_IDLE_COLUMNS,
            history.label("history_tenths"),
            recent.label("recent_tenths"),
            func.coalesce(u.credits, 0).label("credits"),
            func.coalesce(u.free_issues, 0).label("free_issues"),
        )
        .select_from(_OWNED.outerjoin(usage, u.meter_id == meters.c.id))
        .where(or_(_IS_IDLE, below))
        .order_by(meters.c.last_purchase_at.nulls_first(), meters.c.id)
        .limit(bindparam("lim"))
        .offset(bindparam("off"))
    )


_ABNORMAL: Final = Statement(_abnormal())

_IDLE_NAMES: Final = tuple(column.name for column in _IDLE_COLUMNS)

#: ``SET LOCAL jit = off`` as a query (the driver reads rows or a row count, not ``SET``).
_NO_JIT: Final = Statement(select(func.set_config("jit", "off", true())))

_BUILDERS: Final[dict[str, Build]] = {
    "vending": _vending,
    "free_issue": _free_issue,
    "debt": _debt,
    "reversals": _reversals,
    "reprints": _reprints,
    "maintenance": _maintenance,
    "reconciliation": _reconciliation,
}


def statement(report: str, by: str) -> Statement:
    """The report's statement for the grouping, for both dialects (built once)."""
    found = _statements.get((report, by))
    if found is None:
        build = _BUILDERS[report]
        found = Statement({dialect: build(by, dialect) for dialect in _DIALECTS})
        _statements[(report, by)] = found
    return found


def _key(row: Row, by: str) -> str:
    key = row["key"]
    if key is None:
        return ""
    if isinstance(key, datetime):  # PostgreSQL's date_trunc
        return key.isoformat()[: _SIZES[by]]
    return str(key)


def _ints(row: Row, *names: str) -> list[int]:
    return [int(row[name]) for name in names]


class SqlReportRepository(Repository):
    """``ports.ReportRepository``: every report one aggregate statement in the database."""

    __slots__ = ()

    async def _no_jit(self) -> None:
        """PostgreSQL: no JIT compilation for this transaction's report (see the module)."""
        if self._session.dialect.name == "postgresql":
            await self._all(_NO_JIT)

    async def _grouped(self, report: str, start: datetime, end: datetime, by: str) -> list[Row]:
        await self._no_jit()
        return await self._all(statement(report, by), start=start, end=end)

    async def vending(self, start: datetime, end: datetime, by: str) -> list[VendingLine]:
        """Completed credit vends created in the period (reversed ones are left out)."""
        names = ("sales", "gross", "vat", "net", "commission", "units")
        rows = await self._grouped("vending", start, end, by)
        return [VendingLine(_key(row, by), *_ints(row, *names)) for row in rows]

    async def free_issue(self, start: datetime, end: datetime, by: str) -> list[FreeIssueLine]:
        """Completed vends created in the period that issued Free Basic Electricity."""
        rows = await self._grouped("free_issue", start, end, by)
        names = ("issues", "units", "claimed_alone")
        return [FreeIssueLine(_key(row, by), *_ints(row, *names)) for row in rows]

    async def debt_recovery(
        self, start: datetime, end: datetime, by: str
    ) -> list[DebtRecoveryLine]:
        """The debt lines of completed credit vends created in the period."""
        rows = await self._grouped("debt", start, end, by)
        names = ("recoveries", "amount", "vat", "net")
        return [DebtRecoveryLine(_key(row, by), *_ints(row, *names)) for row in rows]

    async def reversals(self, start: datetime, end: datetime, by: str) -> list[ReversalLine]:
        """Vends reversed in the period (``reversed_at``); ``operator``: who reversed."""
        rows = await self._grouped("reversals", start, end, by)
        names = ("reversals", "gross", "vat", "commission")
        return [ReversalLine(_key(row, by), *_ints(row, *names)) for row in rows]

    async def reprints(self, start: datetime, end: datetime, by: str) -> list[ReprintLine]:
        """Audited admin reprints in the period; ``operator``: the user's username."""
        rows = await self._grouped("reprints", start, end, by)
        return [ReprintLine(_key(row, by), int(row["reprints"])) for row in rows]

    async def maintenance(self, start: datetime, end: datetime, by: str) -> list[MaintenanceLine]:
        """Requests opened (``opened_at``) and resolved (``resolved_at``) in the period."""
        rows = await self._grouped("maintenance", start, end, by)
        return [MaintenanceLine(_key(row, by), *_ints(row, "opened", "resolved")) for row in rows]

    async def reconciliation(
        self, start: datetime, end: datetime, by: str
    ) -> list[ReconciliationLine]:
        """Payments (by ``created_at``) and payment vends (by ``created_at``) that disagree."""
        rows = await self._grouped("reconciliation", start, end, by)
        return [ReconciliationLine(_key(row, by), *_ints(row, *_RECONCILED)) for row in rows]

    async def idle_meters(self, before: datetime, *, limit: int, offset: int) -> list[IdleMeter]:
        """Meters whose last purchase is before ``before`` or who never bought; one page."""
        await self._no_jit()
        rows = await self._all(_IDLE, before=before, lim=limit, off=offset)
        return [IdleMeter(**row) for row in rows]

    async def abnormal_meters(
        self, now: datetime, before: datetime, *, below: int, limit: int, offset: int
    ) -> list[AbnormalMeter]:
        """Idle meters, and with ``below`` > 0 those far below their history; one page.

        One statement (:func:`_abnormal`); ``below`` 0 lists the idle meters only.
        """
        await self._no_jit()
        start, end = history_window(now)
        rows = await self._all(
            _ABNORMAL,
            before=before,
            below=below,
            history_start=start,
            history_end=end,
            recent=now - timedelta(days=RECENT_DAYS),
            now=now,
            lim=limit,
            off=offset,
        )
        return [
            abnormal_meter(
                IdleMeter(**{name: row[name] for name in _IDLE_NAMES}),
                before,
                history_tenths=int(row["history_tenths"]),
                recent_tenths=int(row["recent_tenths"]),
                credits=int(row["credits"]),
                free_issues=int(row["free_issues"]),
            )
            for row in rows
        ]
