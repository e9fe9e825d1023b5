"""SQL repositories of payments and wallets (same style as :mod:`.ledger`).

Statements are built once at import and run on the unit of work's session. Inserts that
must happen once use ``INSERT ... ON CONFLICT DO NOTHING`` and report whether they inserted:
a concurrent duplicate waits for the first writer on PostgreSQL and is told "exists" without
aborting its transaction. ``lock=True`` adds ``FOR UPDATE`` (PostgreSQL; SQLite's ``BEGIN
IMMEDIATE`` already serialises writers). A voucher is redeemed by a conditional ``UPDATE ...
WHERE status = 'active'``: of any number of concurrent redemptions one changes the row.
A payment's change and its history event go together (``update_with_event``,
``add_with_event``): one statement on PostgreSQL (a data-modifying CTE), two on SQLite.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    CTE,
    Insert,
    String,
    Table,
    bindparam,
    cast,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vending_core.adapters import tables_messaging as tm
from vending_core.adapters import tables_payments as t
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import (
    Repository,
    insert_into,
    key_clause,
    locked,
    select_where,
    update_where,
)
from vending_core.domain.payments import (
    Payment,
    PaymentEvent,
    PaymentStatus,
    WalletEntry,
)

__all__ = ["SqlPaymentRepository", "SqlWalletRepository"]

_PAYMENT_FIELDS: Final = tuple(f.name for f in fields(Payment))
_EVENT_FIELDS: Final = tuple(f.name for f in fields(PaymentEvent))
_PAYMENT_SET: Final = tuple(name for name in _PAYMENT_FIELDS if name != "id")
_EVENT_SET: Final = tuple(name for name in _EVENT_FIELDS if name != "payment_id")
_ENTRY_FIELDS: Final = tuple(f.name for f in fields(WalletEntry))


def _insert_once(table: Table, columns: tuple[str, ...]) -> Statement:
    return Statement(
        {
            "postgresql": postgresql.insert(table).on_conflict_do_nothing(),
            "sqlite": sqlite.insert(table).on_conflict_do_nothing(),
        },
        column_keys=columns,
    )


def _values(entity: object, names: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in names:
        value = getattr(entity, name)
        if isinstance(value, enum.Enum):
            value = value.value
        row[name] = dict(value) if isinstance(value, Mapping) else value
    return row


def _payment(row: Row) -> Payment:
    values = {name: row[name] for name in _PAYMENT_FIELDS}
    values["status"] = PaymentStatus(values["status"])
    return Payment(**values)


_PAYMENT_INSERT = _insert_once(t.payments, _PAYMENT_FIELDS)
_PAYMENT = Statement(select_where(t.payments, "id"))
_PAYMENT_LOCKED = Statement(locked(select_where(t.payments, "id"), t.payments))
_BY_REFERENCE = select_where(t.payments, "provider", "provider_reference")
_PAYMENT_BY_REFERENCE = Statement(_BY_REFERENCE)
_PAYMENT_BY_REFERENCE_LOCKED = Statement(locked(_BY_REFERENCE, t.payments))
_PAYMENT_BY_REQUEST = Statement(select_where(t.payments, "client_id", "request_id"))
_PAYMENT_UPDATE = update_where(t.payments, "id")
_ORDER = (t.payments.c.created_at, t.payments.c.id)
_PENDING = Statement(
    select_where(t.payments, "status")
    .where(t.payments.c.created_at < bindparam("k_before"))
    .order_by(*_ORDER)
    .limit(bindparam("k_limit"))
)
_EXPIRING = Statement(
    select_where(t.payments, "status")
    .where(t.payments.c.expires_at <= bindparam("k_now"))
    .order_by(*_ORDER)
    .limit(bindparam("k_limit"))
)
_IN_STATUS = Statement(
    select_where(t.payments, "status").order_by(*_ORDER).limit(bindparam("k_limit"))
)
# The token SMS's dedupe key, as vending_core.service.outbox.token_sms_key writes it.
_TOKEN_SMS_KEY = literal("vend:") + cast(t.payments.c.vend_id, String) + literal(":token")
_WITHOUT_TOKEN_SMS = Statement(
    select_where(t.payments, "status")
    .where(
        t.payments.c.created_at >= bindparam("k_since"),
        t.payments.c.channel != "api",
        t.payments.c.vend_id.is_not(None),
        ~exists().where(tm.sms_outbox.c.dedupe_key == _TOKEN_SMS_KEY),
    )
    .order_by(*_ORDER)
    .limit(bindparam("k_limit"))
)
_EVENT_INSERT = insert_into(t.payment_events, skip=("id",))
_EVENTS = Statement(select_where(t.payment_events, "payment_id").order_by(t.payment_events.c.id))


def _event_from(source: CTE) -> Insert:
    """``INSERT INTO payment_events (...) SELECT source.id, :e_at, ... FROM source``.

    The event's values are ``e_<field>`` parameters (they share names with payment columns);
    its ``payment_id`` is the id the CTE returned, so no row there inserts no event.
    """
    e = t.payment_events
    return insert(e).from_select(
        ["payment_id", *_EVENT_SET],
        select(source.c.id, *(bindparam(f"e_{n}", type_=e.c[n].type) for n in _EVENT_SET)),
    )


def _payment_with_event() -> tuple[Statement, Statement]:
    """PostgreSQL's one-statement writes: (update with event, add with event).

    ``WITH updated AS (UPDATE payments SET ... WHERE id = :k_id RETURNING id) INSERT INTO
    payment_events ... SELECT ... FROM updated``: the changed-row count is 1, or 0 when no
    payment has that id (nothing inserted). ``WITH added AS (INSERT INTO payments ... ON
    CONFLICT DO NOTHING RETURNING id) INSERT INTO payment_events ...``: 1 when the payment
    was added, 0 when a unique key exists (as ``add``; nothing inserted).
    """
    p = t.payments
    changed = (
        update(p)
        .where(p.c.id == bindparam("k_id"))
        .values({n: bindparam(n, type_=p.c[n].type) for n in _PAYMENT_SET})
        .returning(p.c.id)
    )
    added = (
        postgresql.insert(p)
        .values({n: bindparam(n, type_=p.c[n].type) for n in _PAYMENT_FIELDS})
        .on_conflict_do_nothing()
        .returning(p.c.id)
    )
    return (
        Statement(_event_from(changed.cte("updated"))),
        Statement(_event_from(added.cte("added"))),
    )


_UPDATE_WITH_EVENT, _ADD_WITH_EVENT = _payment_with_event()


def _event_values(payment: Payment, event: PaymentEvent) -> dict[str, Any]:
    """The ``e_*`` parameters of ``event``; ValueError if it is not about ``payment``."""
    if event.payment_id != payment.id:
        raise ValueError(f"event of payment {event.payment_id} given with payment {payment.id}")
    return {f"e_{name}": value for name, value in _values(event, _EVENT_SET).items()}


class SqlPaymentRepository(Repository):
    """Payment intents and their history."""

    __slots__ = ()

    async def add(self, payment: Payment) -> bool:
        """Insert the intent; False if a unique key (the purchase request) exists."""
        return await self._execute(_PAYMENT_INSERT, _values(payment, _PAYMENT_FIELDS)) == 1

    async def get(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """By id (``lock``: FOR UPDATE)."""
        row = await self._first(_PAYMENT_LOCKED if lock else _PAYMENT, k_id=payment_id)
        return None if row is None else _payment(row)

    async def get_by_provider_reference(
        self, provider: str, reference: str, *, lock: bool = False
    ) -> Payment | None:
        """By the provider's reference (``lock``: FOR UPDATE)."""
        statement = _PAYMENT_BY_REFERENCE_LOCKED if lock else _PAYMENT_BY_REFERENCE
        row = await self._first(statement, k_provider=provider, k_provider_reference=reference)
        return None if row is None else _payment(row)

    async def get_by_request(self, client_id: str, request_id: str) -> Payment | None:
        """By the purchase's idempotency key."""
        row = await self._first(_PAYMENT_BY_REQUEST, k_client_id=client_id, k_request_id=request_id)
        return None if row is None else _payment(row)

    async def update(self, payment: Payment) -> None:
        """Store every field but the id."""
        params = _values(payment, _PAYMENT_SET) | {"k_id": payment.id}
        await self._update(_PAYMENT_UPDATE, params, "payment")

    async def add_event(self, event: PaymentEvent) -> None:
        """Append to the payment's history."""
        await self._execute(_EVENT_INSERT, _values(event, _EVENT_FIELDS))

    async def update_with_event(self, payment: Payment, event: PaymentEvent) -> None:
        """``update`` then ``add_event``: one statement on PostgreSQL, two on SQLite."""
        event_values = _event_values(payment, event)
        if self._session.dialect.name != "postgresql":
            await self.update(payment)
            await self.add_event(event)
            return
        params = _values(payment, _PAYMENT_SET) | {"k_id": payment.id} | event_values
        await self._update(_UPDATE_WITH_EVENT, params, "payment")

    async def add_with_event(self, payment: Payment, event: PaymentEvent) -> bool:
        """``add`` then, if added, ``add_event``: one statement on PostgreSQL, two on SQLite."""
        event_values = _event_values(payment, event)
        if self._session.dialect.name != "postgresql":
            if not await self.add(payment):
                return False
            await self.add_event(event)
            return True
        params = _values(payment, _PAYMENT_FIELDS) | event_values
        return await self._execute(_ADD_WITH_EVENT, params) == 1

    async def events(self, payment_id: str) -> list[PaymentEvent]:
        """The payment's history, oldest first."""
        rows = await self._all(_EVENTS, k_payment_id=payment_id)
        return [
            PaymentEvent(
                **{name: row[name] for name in _EVENT_FIELDS if name != "status"},
                status=PaymentStatus(row["status"]),
            )
            for row in rows
        ]

    async def pending(self, *, created_before: datetime, limit: int = 100) -> list[Payment]:
        """PENDING payments made before ``created_before``, oldest first."""
        rows = await self._all(
            _PENDING, k_status=PaymentStatus.PENDING.value, k_before=created_before, k_limit=limit
        )
        return [_payment(row) for row in rows]

    async def expiring(self, now: datetime, *, limit: int = 100) -> list[Payment]:
        """PENDING payments past ``expires_at``, oldest first."""
        rows = await self._all(
            _EXPIRING, k_status=PaymentStatus.PENDING.value, k_now=now, k_limit=limit
        )
        return [_payment(row) for row in rows]

    async def paid_not_vended(self, *, limit: int = 100) -> list[Payment]:
        """PAID payments, oldest first."""
        rows = await self._all(_IN_STATUS, k_status=PaymentStatus.PAID.value, k_limit=limit)
        return [_payment(row) for row in rows]

    async def vended_without_token_sms(
        self, *, created_since: datetime, limit: int = 100
    ) -> list[Payment]:
        """VENDED phone payments since ``created_since`` whose token SMS is not queued."""
        rows = await self._all(
            _WITHOUT_TOKEN_SMS,
            k_status=PaymentStatus.VENDED.value,
            k_since=created_since,
            k_limit=limit,
        )
        return [_payment(row) for row in rows]


_WALLET_BALANCE = select(t.wallets.c.balance).where(key_clause(t.wallets, "msisdn"))
_BALANCE = Statement(_WALLET_BALANCE)
_BALANCE_LOCKED = Statement(locked(_WALLET_BALANCE, t.wallets))
_WALLET_OPEN = _insert_once(t.wallets, ("msisdn", "currency", "balance", "opened_at"))
_WALLET_SET = update_where(t.wallets, "msisdn", columns=("balance",))
_ENTRY_INSERT = _insert_once(t.wallet_entries, _ENTRY_FIELDS)
_ENTRY = Statement(select_where(t.wallet_entries, "reference"))
_ENTRIES = Statement(select_where(t.wallet_entries, "msisdn").order_by(t.wallet_entries.c.id))


class SqlWalletRepository(Repository):
    """Wallet balances and their append-only ledger."""

    __slots__ = ()

    async def balance(self, msisdn: str, *, lock: bool = False) -> int | None:
        """The balance, None without a wallet (``lock``: FOR UPDATE)."""
        row = await self._first(_BALANCE_LOCKED if lock else _BALANCE, k_msisdn=msisdn)
        return None if row is None else int(row["balance"])

    async def open(self, msisdn: str, currency: str, now: datetime) -> None:
        """Create an empty wallet if there is none."""
        values = {"msisdn": msisdn, "currency": currency, "balance": 0, "opened_at": now}
        await self._execute(_WALLET_OPEN, values)

    async def add_entry(self, entry: WalletEntry) -> bool:
        """Append the entry and set the balance; False (nothing done) for a known reference."""
        if await self._execute(_ENTRY_INSERT, _values(entry, _ENTRY_FIELDS)) == 0:
            return False
        params = {"balance": entry.balance_after, "k_msisdn": entry.msisdn}
        await self._update(_WALLET_SET, params, "wallet")
        return True

    async def entry(self, reference: str) -> WalletEntry | None:
        """The entry with that reference."""
        row = await self._first(_ENTRY, k_reference=reference)
        return None if row is None else WalletEntry(**{n: row[n] for n in _ENTRY_FIELDS})

    async def entries(self, msisdn: str) -> list[WalletEntry]:
        """The wallet's entries, oldest first."""
        rows = await self._all(_ENTRIES, k_msisdn=msisdn)
        return [WalletEntry(**{n: row[n] for n in _ENTRY_FIELDS}) for row in rows]
