"""One contract for the payment, wallet and voucher repositories: memory, SQLite, PostgreSQL.

Values round-trip exactly (aware UTC times, JSON payloads), unique keys are enforced
(the purchase request, the provider reference, the provider receipt, a wallet entry's
reference, a voucher's PIN hash), the queues select what their names say, and the
exactly-once writes hold under concurrent units of work.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.contract.conftest import AddMeter, Backend
from tests.contract.test_repositories import make_vend
from tests.support.payments import pending_payment
from vending_core.adapters.errors import ConstraintViolation
from vending_core.adapters.memory_payments import DuplicateRowError
from vending_core.adapters.sql import sql_uow_factory
from vending_core.domain.payments import (
    Payment,
    PaymentEvent,
    PaymentStatus,
    Voucher,
    VoucherStatus,
    WalletEntry,
)
from vending_core.service import outbox

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)
DUPLICATE = (DuplicateRowError, ConstraintViolation)


def payment(number: int = 1, **changes: object) -> Payment:
    """A payment with every field set away from its default.

    The pending payment ``number`` of tests/support/payments.py, created ``number`` minutes
    after T0 (expiring 10 minutes later), PAID with receipt ``RCP<number>``, reason "ok",
    vend_error "meter-blocked", 2 vend attempts, a nested raw payload, updated 1 s after it
    was created.
    """
    created = T0 + timedelta(minutes=number)
    base = pending_payment(
        number,
        at=created,
        status=PaymentStatus.PAID,
        receipt=f"RCP{number}",
        reason="ok",
        vend_error="meter-blocked",
        vend_attempts=2,
        raw={"Body": {"stkCallback": {"ResultCode": 0}}, "n": [1, 2]},
        updated_at=created + timedelta(seconds=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_payment_round_trip_and_lookups(backend: Backend) -> None:
    """add, then get / by reference / by request return an equal payment (locked or not)."""
    stored = payment()
    async with backend.new_uow() as uow:
        assert await uow.payments.add(stored)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.get(stored.id) == stored
        assert await uow.payments.get(stored.id, lock=True) == stored
        found = await uow.payments.get_by_provider_reference("mpesa", "ws_CO_1", lock=True)
        assert found == stored
        assert await uow.payments.get_by_provider_reference("sandbox", "ws_CO_1") is None
        assert await uow.payments.get_by_request("ussd-at", "s1") == stored
        assert await uow.payments.get("f" * 32) is None


async def test_same_purchase_request_is_not_added_twice(backend: Backend) -> None:
    """A second intent with the same (client_id, request_id) is refused: add returns False."""
    async with backend.new_uow() as uow:
        assert await uow.payments.add(payment(1, provider_reference=None, receipt=None))
        other = payment(2, request_id="s1", provider_reference=None, receipt=None)
        assert not await uow.payments.add(other)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.get(payment(2).id) is None


async def test_provider_reference_and_receipt_are_unique(backend: Backend) -> None:
    """Two payments may not share a provider reference, nor a receipt, of one provider."""
    async with backend.new_uow() as uow:
        await uow.payments.add(payment(1))
        await uow.payments.add(payment(2, receipt=None))
        await uow.payments.add(payment(3, provider="sandbox", provider_reference="ws_CO_1"))
        await uow.commit()
    for clash in ({"provider_reference": "ws_CO_1"}, {"receipt": "RCP1"}):
        with pytest.raises(DUPLICATE):
            async with backend.new_uow() as uow:
                await uow.payments.update(payment(2, **clash))


async def test_update_and_rollback(backend: Backend) -> None:
    """Update stores every field; without commit nothing is kept."""
    async with backend.new_uow() as uow:
        await uow.payments.add(payment(1, status=PaymentStatus.PENDING))
        await uow.commit()
    changed = payment(1, status=PaymentStatus.CONFLICT, reason="amount", raw={"x": "y"})
    async with backend.new_uow() as uow:
        await uow.payments.update(changed)
    async with backend.new_uow() as uow:
        assert (await uow.payments.get(changed.id)) == payment(1, status=PaymentStatus.PENDING)
        await uow.payments.update(changed)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.get(changed.id) == changed


async def test_events_keep_order_and_payload(backend: Backend) -> None:
    """A payment's history comes back oldest first with its raw payloads."""
    events = [
        PaymentEvent(payment_id=payment().id, at=T0, kind="created", status=PaymentStatus.PENDING),
        PaymentEvent(
            payment_id=payment().id,
            at=T0 + timedelta(seconds=3),
            kind="report",
            status=PaymentStatus.PAID,
            outcome="paid",
            amount=10_000,
            receipt="RCP1",
            detail="The service request is processed successfully.",
            raw={"ResultCode": 0},
        ),
    ]
    async with backend.new_uow() as uow:
        await uow.payments.add(payment())
        for event in events:
            await uow.payments.add_event(event)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.events(payment().id) == events
        assert await uow.payments.events(payment(2).id) == []


async def test_queues_select_by_status_and_time(backend: Backend) -> None:
    """Pending / expiring / paid_not_vended: the right payments, oldest first, limited."""
    pending = [payment(n, status=PaymentStatus.PENDING, receipt=None) for n in (3, 1, 2)]
    async with backend.new_uow() as uow:
        for p in [*pending, payment(4), payment(5, status=PaymentStatus.VENDED)]:
            await uow.payments.add(p)
        await uow.commit()
    async with backend.new_uow() as uow:
        # created at T0+1, +2, +3 min; expiring at T0+11, +12, +13 min
        before = await uow.payments.pending(created_before=T0 + timedelta(minutes=3))
        assert [p.id for p in before] == [payment(1).id, payment(2).id]
        limited = await uow.payments.pending(created_before=T0 + timedelta(hours=1), limit=1)
        assert [p.id for p in limited] == [payment(1).id]
        expiring = await uow.payments.expiring(T0 + timedelta(minutes=12))
        assert [p.id for p in expiring] == [payment(1).id, payment(2).id]
        assert [p.id for p in await uow.payments.paid_not_vended()] == [payment(4).id]


async def test_wallet_ledger(backend: Backend) -> None:
    """Open is idempotent; entries move the balance; a repeated reference is refused."""
    top_up = WalletEntry(
        msisdn="254712345678", at=T0, amount=500, balance_after=500, kind="top_up", reference="t1"
    )
    debit = WalletEntry(
        msisdn="254712345678", at=T0, amount=-200, balance_after=300, kind="payment", reference="p"
    )
    async with backend.new_uow() as uow:
        assert await uow.wallets.balance("254712345678") is None
        await uow.wallets.open("254712345678", "KES", T0)
        await uow.wallets.open("254712345678", "KES", T0)
        assert await uow.wallets.balance("254712345678", lock=True) == 0
        assert await uow.wallets.add_entry(top_up)
        assert await uow.wallets.add_entry(debit)
        assert not await uow.wallets.add_entry(replace(debit, balance_after=100))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.wallets.balance("254712345678") == 300
        assert await uow.wallets.entries("254712345678") == [top_up, debit]
        assert await uow.wallets.entry("p") == debit
        assert await uow.wallets.entry("nope") is None


def voucher(serial: str = "B1-000001", pin_hash: str = "a" * 64) -> Voucher:
    """An unredeemed card."""
    return Voucher(
        serial=serial,
        pin_hash=pin_hash,
        face_value=10_000,
        currency="KES",
        batch="B1",
        created_at=T0,
    )


async def test_vouchers_redeem_once_and_attempts(backend: Backend) -> None:
    """A card is found by PIN hash, redeemed once, found by payment; failures by msisdn."""
    async with backend.new_uow() as uow:
        card_id = await uow.vouchers.add(voucher())
        assert await uow.vouchers.redeem(card_id, msisdn="2547", payment_id="p1", at=T0)
        assert not await uow.vouchers.redeem(card_id, msisdn="2548", payment_id="p2", at=T0)
        for minute, ok in ((0, False), (1, True), (2, False)):
            await uow.vouchers.add_attempt("2547", T0 + timedelta(minutes=minute), ok=ok)
        await uow.vouchers.add_attempt("2548", T0, ok=False)
        await uow.commit()
    async with backend.new_uow() as uow:
        card = await uow.vouchers.get_by_pin_hash("a" * 64)
        assert card == replace(
            voucher(),
            id=card_id,
            status=VoucherStatus.REDEEMED,
            redeemed_at=T0,
            redeemed_by="2547",
            payment_id="p1",
        )
        assert await uow.vouchers.get_by_payment("p1") == card
        assert await uow.vouchers.get_by_pin_hash("b" * 64) is None
        assert await uow.vouchers.failures_since("2547", T0) == [T0, T0 + timedelta(minutes=2)]
        assert await uow.vouchers.failures_since("2547", T0 + timedelta(seconds=1)) == [
            T0 + timedelta(minutes=2)
        ]
    with pytest.raises(DUPLICATE):
        async with backend.new_uow() as uow:
            await uow.vouchers.add(voucher(serial="B1-000002"))


async def test_concurrent_adds_of_one_purchase_make_one_payment(backend: Backend) -> None:
    """Ten units of work add the same purchase request at once: exactly one succeeds."""

    async def add(number: int) -> bool:
        async with backend.new_uow() as uow:
            added = await uow.payments.add(
                payment(number, request_id="same", provider_reference=None, receipt=None)
            )
            await uow.commit()
            return added

    assert sorted(await asyncio.gather(*(add(n) for n in range(1, 11)))) == [False] * 9 + [True]


async def test_concurrent_redemptions_redeem_once(backend: Backend) -> None:
    """Twenty units of work redeem one card at once: exactly one conditional update wins."""
    async with backend.new_uow() as uow:
        card_id = await uow.vouchers.add(voucher())
        await uow.commit()

    async def redeem(number: int) -> bool:
        async with backend.new_uow() as uow:
            won = await uow.vouchers.redeem(card_id, msisdn="2547", payment_id=f"p{number}", at=T0)
            await uow.commit()
            return won

    assert sum(await asyncio.gather(*(redeem(n) for n in range(20)))) == 1


async def test_vended_payments_whose_token_sms_was_never_queued(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Only VENDED phone payments since the cut-off with no ``vend:<id>:token`` outbox row.

    Five vended payments, made at T0 + 1..5 min, each with its own vend: #1 is before the
    cut-off (T0 + 2 min); #2 has its token SMS queued; #3 is an API sale (the client got the
    token in the answer); #4 and #5 have no SMS. So: #4, #5 (oldest first), and #4 alone with
    ``limit=1``. A PAID payment (#6, no vend) is never listed.
    """
    async with backend.new_uow() as uow:
        meter_id = await add_meter(uow)
        vend_ids = [
            await uow.vends.add(make_vend(meter_id, request_id=f"v{n}", tids=(100 + n,)))
            for n in range(1, 6)
        ]
        for n, vend_id in enumerate(vend_ids, start=1):
            channel = "api" if n == 3 else "ussd"
            await uow.payments.add(
                payment(n, status=PaymentStatus.VENDED, vend_id=vend_id, channel=channel)
            )
        await uow.payments.add(payment(6))
        await outbox.enqueue_sms(
            uow,
            dedupe_key=outbox.token_sms_key(vend_ids[1]),
            msisdn="254712345678",
            text="Token 1234",
            kind="token",
            now=T0,
        )
        await uow.commit()
    async with backend.new_uow() as uow:
        since = T0 + timedelta(minutes=2)
        found = await uow.payments.vended_without_token_sms(created_since=since)
        assert [p.id for p in found] == [payment(4).id, payment(5).id]
        first = await uow.payments.vended_without_token_sms(created_since=since, limit=1)
        assert [p.id for p in first] == [payment(4).id]


def report_event(number: int, **changes: object) -> PaymentEvent:
    """A provider report event of payment ``number`` with every field set."""
    base = PaymentEvent(
        payment_id=payment(number).id,
        at=T0 + timedelta(minutes=number, seconds=5),
        kind="report",
        status=PaymentStatus.CONFLICT,
        outcome="paid",
        amount=9_000,
        receipt=f"RCP{number}",
        detail="amount differs",
        raw={"ResultCode": 0, "Amount": [90, "00"]},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_update_with_event_stores_what_update_and_add_event_store(
    backend: Backend,
) -> None:
    """The changed payment and its event are both stored, as update then add_event store them.

    Payments #1 and #2 start PENDING; #1 is changed with ``update_with_event``, #2 with
    ``update`` then ``add_event``. Both read back as the CONFLICT payment written (reason
    "amount", vend_error None, 3 attempts, raw {"Amount": 9000}, every other field as
    ``payment`` sets it) with its one report event, and uncommitted, neither is kept.
    """
    pending = {"status": PaymentStatus.PENDING, "receipt": None, "vend_error": None}
    conflict = {
        "status": PaymentStatus.CONFLICT,
        "reason": "amount",
        "vend_error": None,
        "vend_attempts": 3,
        "raw": {"Amount": 9000},
        "updated_at": T0 + timedelta(hours=1),
    }
    async with backend.new_uow() as uow:
        for number in (1, 2):
            await uow.payments.add(payment(number, **pending))
        await uow.commit()
    async with backend.new_uow() as uow:  # not committed: nothing kept
        await uow.payments.update_with_event(payment(1, **conflict), report_event(1))
    async with backend.new_uow() as uow:
        assert await uow.payments.get(payment(1).id) == payment(1, **pending)
        assert await uow.payments.events(payment(1).id) == []
        await uow.payments.update_with_event(payment(1, **conflict), report_event(1))
        await uow.payments.update(payment(2, **conflict))
        await uow.payments.add_event(report_event(2))
        await uow.commit()
    async with backend.new_uow() as uow:
        for number in (1, 2):
            stored = await uow.payments.get(payment(number).id)
            assert stored == payment(number, **conflict)
            assert await uow.payments.events(payment(number).id) == [report_event(number)]


async def test_update_with_event_of_a_missing_payment_raises_as_update_and_stores_no_event(
    backend: Backend,
) -> None:
    """No payment #9: update_with_event raises what update raises, and stores no event.

    The error is the one ``update`` raises for a missing row on this backend (KeyError in
    memory, RowNotFound on SQL: both LookupErrors); the unit of work is committed after it,
    and #9 still has no payment and no event.
    """
    async with backend.new_uow() as uow:
        with pytest.raises(LookupError) as by_update:
            await uow.payments.update(payment(9))
        with pytest.raises(LookupError) as by_both:
            await uow.payments.update_with_event(payment(9), report_event(9))
        assert type(by_both.value) is type(by_update.value)
        assert str(by_both.value) == str(by_update.value)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.get(payment(9).id) is None
        assert await uow.payments.events(payment(9).id) == []


async def test_an_event_of_another_payment_is_refused(backend: Backend) -> None:
    """update_with_event / add_with_event with an event of payment #2 for #1: ValueError.

    Nothing is stored: #1 stays as added (PENDING), no event of #1 or #2, no payment #3.
    """
    async with backend.new_uow() as uow:
        await uow.payments.add(payment(1, status=PaymentStatus.PENDING))
        with pytest.raises(ValueError, match="event of payment"):
            await uow.payments.update_with_event(payment(1), report_event(2))
        with pytest.raises(ValueError, match="event of payment"):
            await uow.payments.add_with_event(payment(3), report_event(2))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.get(payment(1).id) == payment(1, status=PaymentStatus.PENDING)
        assert await uow.payments.get(payment(3).id) is None
        for number in (1, 2):
            assert await uow.payments.events(payment(number).id) == []


async def test_add_with_event_adds_once_and_keeps_the_event_with_it(backend: Backend) -> None:
    """A new intent and its "created" event are stored (True); the same request again: False.

    The second intent (#2, same (client_id, request_id) "ussd-at"/"s1") is not stored and
    neither is its event; #1 keeps its one event.
    """
    first = payment(1, status=PaymentStatus.PENDING, provider_reference=None, receipt=None)
    created = PaymentEvent(
        payment_id=first.id, at=T0, kind="created", status=PaymentStatus.PENDING, detail="via ussd"
    )
    again = payment(2, request_id="s1", provider_reference=None, receipt=None)
    async with backend.new_uow() as uow:
        assert await uow.payments.add_with_event(first, created)
        assert not await uow.payments.add_with_event(again, replace(created, payment_id=again.id))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.payments.get(first.id) == first
        assert await uow.payments.events(first.id) == [
            PaymentEvent(
                payment_id=f"{1:032x}",
                at=T0,
                kind="created",
                status=PaymentStatus.PENDING,
                detail="via ussd",
            )
        ]
        assert await uow.payments.get(again.id) is None
        assert await uow.payments.events(again.id) == []


async def test_a_payment_and_its_event_cost_one_statement_on_postgresql(
    sql_backend: Backend,
) -> None:
    """PostgreSQL: one statement each (a data-modifying CTE); SQLite: UPDATE/INSERT + INSERT.

    Counted from the steps: update_with_event is PostgreSQL's ``WITH updated AS (UPDATE ...)
    INSERT INTO payment_events ...`` (1) or SQLite's UPDATE then INSERT (2); add_with_event
    of a new intent likewise ``WITH added AS (INSERT ...) INSERT ...`` (1) or INSERT, INSERT
    (2); of a repeated request, 1 on both (SQLite's INSERT inserts nothing, so no event).
    """
    assert sql_backend.engine is not None
    postgres = sql_backend.engine.dialect.name == "postgresql"
    statements: list[str] = []
    new_uow = sql_uow_factory(sql_backend.engine, observe=statements.append)
    first = payment(1, status=PaymentStatus.PENDING, receipt=None)
    created = report_event(1, kind="created", status=PaymentStatus.PENDING)
    async with new_uow() as uow:
        await uow.payments.get("0" * 32)  # begins the transaction
        statements.clear()
        assert await uow.payments.add_with_event(first, created)
        added = statements[:]
        statements.clear()
        await uow.payments.update_with_event(payment(1), report_event(1))
        updated = statements[:]
        statements.clear()
        assert not await uow.payments.add_with_event(
            replace(first, id=payment(2).id), replace(created, payment_id=payment(2).id)
        )
        repeated = statements[:]
        await uow.commit()
    words = [[sql.split()[:3] for sql in found] for found in (added, updated, repeated)]
    if postgres:
        assert words == [
            [["WITH", "added", "AS"]],
            [["WITH", "updated", "AS"]],
            [["WITH", "added", "AS"]],
        ]
    else:
        assert words == [
            [["INSERT", "INTO", "payments"], ["INSERT", "INTO", "payment_events"]],
            [["UPDATE", "payments", "SET"], ["INSERT", "INTO", "payment_events"]],
            [["INSERT", "INTO", "payments"]],
        ]
