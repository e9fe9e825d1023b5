"""Payments through the service layer, on memory, SQLite and PostgreSQL (conftest ``world``).

A scripted provider stands in for mobile money; its reports are fed to the one apply step
as a callback handler would. Every token is entered into the reference meter ``sts.Meter``.
Units by hand from the flat tariff (R2.00/kWh excl. VAT, VAT 15 % inclusive): R100.00 ->
VAT 10000*15/115 = 1304.35 -> net 8695.65 / 200 = 43.478 kWh -> 43.4 kWh (434 tenths).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import sts
from tests.support.core_world import World
from tests.support.transactions import counted, queued_sms
from vending_core.domain.errors import AmountOutOfRange, MeterBlocked
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.service import outbox
from vending_core.service.core import RequestContext
from vending_core.service.operations import block_meter, unblock_meter
from vending_core.service.payment_ports import (
    PaymentAccepted,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)
from vending_core.service.payments import (
    PAYMENT_CLIENT_ID,
    apply_payment_result,
    expire_payments,
    find_payment,
    get_payment,
    payment_vend,
    poll_pending,
    retry_paid_not_vended,
    start_purchase,
)
from vending_core.service.ports import UnitOfWork
from vending_core.service.results import VendResult
from vending_core.service.vending import reprint, vend_credit

TTL = timedelta(minutes=10)
R100 = 10_000
UNITS_R100 = 434


class ScriptedProvider:
    """A provider whose answers the test sets: accept (default), refuse or be unreachable."""

    name = "scripted"

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []
        self.fail_with: Exception | None = None
        self.status = PaymentOutcome.PENDING

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Record the request; accept it as ``REF-<n>`` unless told to fail."""
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        return PaymentAccepted(provider_reference=f"REF-{len(self.requests)}")

    async def query(self, provider_reference: str) -> ProviderResult:
        """Answer with ``self.status`` for the whole amount asked."""
        return result(provider_reference, self.status, amount=self.requests[-1].amount)

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """Not used: tests build results directly."""
        raise NotImplementedError


def result(
    reference: str,
    outcome: PaymentOutcome = PaymentOutcome.PAID,
    *,
    amount: int | None = R100,
    receipt: str | None = "RCP1",
) -> ProviderResult:
    """A report of the scripted provider, as its callback would carry it."""
    return ProviderResult(
        provider="scripted",
        provider_reference=reference,
        outcome=outcome,
        amount=amount,
        receipt=receipt if outcome is PaymentOutcome.PAID else None,
        raw={"ResultCode": 0 if outcome is PaymentOutcome.PAID else 1, "ref": reference},
    )


async def start(world: World, provider: ScriptedProvider, request_id: str = "s1") -> Payment:
    """A R100 purchase for the demo meter by USSD."""
    return await start_purchase(
        world.core,
        provider,
        msisdn="254712345678",
        meter=world.meter_number,
        amount=R100,
        channel="ussd",
        client_id="ussd-at",
        request_id=request_id,
        ttl=TTL,
    )


def _ref(payment: Payment) -> str:
    assert payment.provider_reference is not None
    return payment.provider_reference


async def _vends(world: World) -> int:
    return len(await reprint(world.core, world.meter_number))


async def test_intent_is_recorded_then_provider_asked_once(world: World) -> None:
    """A retried hop with the same request id finds the same payment; one provider call."""
    provider = ScriptedProvider()
    first = await start(world, provider)
    again = await start(world, provider)
    assert again == first
    assert first.status is PaymentStatus.PENDING
    assert first.provider_reference == "REF-1"
    assert len(provider.requests) == 1
    request = provider.requests[0]
    assert (request.payment_id, request.amount, request.account_reference) == (
        first.id,
        R100,
        world.meter_number,
    )
    assert await find_payment(world.core, "ussd-at", "s1") == first


async def test_invalid_sale_is_refused_before_anything_is_stored(world: World) -> None:
    """Blocked meter and an amount under the tariff minimum (R5.00): no intent, no request."""
    provider = ScriptedProvider()
    with pytest.raises(AmountOutOfRange):
        await start_purchase(
            world.core,
            provider,
            msisdn="254712345678",
            meter=world.meter_number,
            amount=499,
            channel="ussd",
            client_id="ussd-at",
            request_id="low",
            ttl=TTL,
        )
    await block_meter(world.core, world.meter_number, reason="tamper", actor="ops")
    with pytest.raises(MeterBlocked):
        await start(world, provider, "blocked")
    assert provider.requests == []
    assert await find_payment(world.core, "ussd-at", "low") is None
    assert await find_payment(world.core, "ussd-at", "blocked") is None


async def test_refused_fails_and_unreachable_stays_pending(world: World) -> None:
    """PaymentRefused -> FAILED with its code; PaymentUnavailable -> PENDING, no reference."""
    provider = ScriptedProvider()
    provider.fail_with = PaymentRefused("wallet empty", code="insufficient")
    refused = await start(world, provider, "a")
    assert (refused.status, refused.reason) == (PaymentStatus.FAILED, "insufficient")
    provider.fail_with = PaymentUnavailable("timeout")
    unknown = await start(world, provider, "b")
    assert (unknown.status, unknown.provider_reference) == (PaymentStatus.PENDING, None)


async def test_callback_replayed_ten_times_vends_once(world: World) -> None:
    """Ten deliveries of one PAID callback: one vend, VENDED, the token loads 43.4 kWh."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    outcomes = [await apply_payment_result(world.core, result(_ref(payment))) for _ in range(10)]
    assert {p.status for p in outcomes} == {PaymentStatus.VENDED}
    assert len({p.vend_id for p in outcomes}) == 1
    assert await _vends(world) == 1
    vend = await payment_vend(world.core, payment.id)
    assert vend is not None
    assert vend.vend_id == outcomes[0].vend_id
    assert vend.credit_tenths == UNITS_R100
    meter = world.reference_meter()
    assert [meter.enter(t.token).result for t in vend.tokens] == [sts.MeterResult.ACCEPT]
    assert meter.credit_tenths() == UNITS_R100
    stored = await get_payment(world.core, payment.id)
    assert (stored.receipt, stored.raw) == ("RCP1", {"ResultCode": 0, "ref": "REF-1"})


async def test_concurrent_duplicate_callbacks_vend_once(world: World) -> None:
    """Ten identical callbacks at once (asyncio.gather): exactly one vend, one vend id."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    outcomes = await asyncio.gather(
        *(apply_payment_result(world.core, result(_ref(payment))) for _ in range(10))
    )
    assert {p.status for p in outcomes} == {PaymentStatus.VENDED}
    assert len({p.vend_id for p in outcomes}) == 1
    assert await _vends(world) == 1


async def test_amount_mismatch_is_a_conflict_not_a_vend(world: World) -> None:
    """Paid R50 on a R100 intent: CONFLICT for review, no vend, and it stays so."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    conflict = await apply_payment_result(world.core, result(_ref(payment), amount=5_000))
    assert conflict.status is PaymentStatus.CONFLICT
    again = await apply_payment_result(world.core, result(_ref(payment)))
    assert again.status is PaymentStatus.CONFLICT
    assert await _vends(world) == 0
    assert await payment_vend(world.core, payment.id) is None


async def test_failed_is_sticky_and_a_late_paid_is_a_conflict(world: World) -> None:
    """FAILED then a repeated FAILED: unchanged; then PAID: CONFLICT (money after we gave up)."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    failed = await apply_payment_result(
        world.core, result(_ref(payment), PaymentOutcome.FAILED, amount=None)
    )
    assert failed.status is PaymentStatus.FAILED
    again = await apply_payment_result(
        world.core, result(_ref(payment), PaymentOutcome.ABANDONED, amount=None)
    )
    assert again.status is PaymentStatus.FAILED
    late = await apply_payment_result(world.core, result(_ref(payment)))
    assert late.status is PaymentStatus.CONFLICT
    assert await _vends(world) == 0


async def test_failed_after_vended_changes_nothing(world: World) -> None:
    """A FAILED callback after the vend leaves the payment VENDED with its vend."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    vended = await apply_payment_result(world.core, result(_ref(payment)))
    late = await apply_payment_result(
        world.core, result(_ref(payment), PaymentOutcome.FAILED, amount=None)
    )
    assert late == vended
    assert late.status is PaymentStatus.VENDED


async def test_pending_payments_expire_and_a_late_paid_is_a_conflict(world: World) -> None:
    """Nothing heard for the 10-minute TTL: EXPIRED; a PAID after that: CONFLICT, no vend."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    world.clock.advance(minutes=9, seconds=59)
    assert await expire_payments(world.core) == []
    world.clock.advance(seconds=1)
    (expired,) = await expire_payments(world.core)
    assert (expired.id, expired.status) == (payment.id, PaymentStatus.EXPIRED)
    late = await apply_payment_result(world.core, result(_ref(payment)))
    assert late.status is PaymentStatus.CONFLICT
    assert await _vends(world) == 0


async def test_paid_not_vended_after_block_then_one_vend_after_unblock(world: World) -> None:
    """Meter blocked after payment: stays PAID with the code; after unblock a retry vends once."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    await block_meter(world.core, world.meter_number, reason="audit", actor="ops")
    paid = await apply_payment_result(world.core, result(_ref(payment)))
    assert (paid.status, paid.vend_error, paid.vend_attempts) == (
        PaymentStatus.PAID,
        "meter-blocked",
        1,
    )
    assert await _vends(world) == 0
    await unblock_meter(world.core, world.meter_number, reason="ok", actor="ops")
    world.clock.advance(seconds=30)  # the first retry is due 30 s after the failure
    (retried,) = await retry_paid_not_vended(world.core)
    assert retried.status is PaymentStatus.VENDED
    assert retried.vend_error is None
    assert await retry_paid_not_vended(world.core) == []
    await apply_payment_result(world.core, result(_ref(payment)))
    assert await _vends(world) == 1
    vend = await payment_vend(world.core, payment.id)
    assert vend is not None
    meter = world.reference_meter()
    assert [meter.enter(t.token).result for t in vend.tokens] == [sts.MeterResult.ACCEPT]
    assert meter.credit_tenths() == UNITS_R100


async def test_retry_waits_for_its_backoff(world: World) -> None:
    """After a refused vend the retry waits 30 s, and 60 s after a second refusal."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    await block_meter(world.core, world.meter_number, reason="audit", actor="ops")
    await apply_payment_result(world.core, result(_ref(payment)))
    world.clock.advance(seconds=29)
    assert await retry_paid_not_vended(world.core) == []
    world.clock.advance(seconds=1)
    (second,) = await retry_paid_not_vended(world.core)
    assert (second.status, second.vend_attempts) == (PaymentStatus.PAID, 2)
    world.clock.advance(seconds=59)
    assert await retry_paid_not_vended(world.core) == []
    world.clock.advance(seconds=1)
    assert len(await retry_paid_not_vended(world.core)) == 1


async def test_poll_pending_queries_old_payments_and_vends(world: World) -> None:
    """A missing callback: the status query after 60 s reports PAID and the vend follows."""
    provider = ScriptedProvider()
    payment = await start(world, provider)
    providers = {"scripted": provider}
    assert await poll_pending(world.core, providers, older_than=timedelta(seconds=60)) == []
    world.clock.advance(seconds=61)
    provider.status = PaymentOutcome.PENDING
    (still,) = await poll_pending(world.core, providers, older_than=timedelta(seconds=60))
    assert still.status is PaymentStatus.PENDING
    provider.status = PaymentOutcome.PAID
    (vended,) = await poll_pending(world.core, providers, older_than=timedelta(seconds=60))
    assert (vended.id, vended.status) == (payment.id, PaymentStatus.VENDED)
    assert await _vends(world) == 1


async def test_a_report_that_overtakes_start_finds_its_payment(world: World) -> None:
    """A provider reporting PAID (with our payment id) before ``start`` returns: one vend."""

    class EagerProvider(ScriptedProvider):
        async def start(self, request: PaymentRequest) -> PaymentAccepted:
            """Report PAID under reference EAGER-1 first, then accept."""
            self.requests.append(request)
            early = ProviderResult(
                provider="scripted",
                provider_reference="EAGER-1",
                outcome=PaymentOutcome.PAID,
                amount=request.amount,
                receipt="RCP9",
                payment_id=request.payment_id,
            )
            await apply_payment_result(world.core, early)
            return PaymentAccepted(provider_reference="EAGER-1")

    payment = await start(world, EagerProvider())
    assert (payment.status, payment.provider_reference) == (PaymentStatus.VENDED, "EAGER-1")
    assert await _vends(world) == 1
    again = await apply_payment_result(world.core, result("EAGER-1", receipt="RCP9"))
    assert again.vend_id == payment.vend_id


class SmsHook:
    """An ``on_vended`` hook queuing a token SMS in the vend's unit of work, as the gateway does.

    It records what it saw; with ``fail`` it raises after queuing (the database failing after
    the insert).
    """

    def __init__(self, world: World, *, fail: bool = False) -> None:
        self.world = world
        self.fail = fail
        self.seen: list[tuple[PaymentStatus, int | None, int]] = []

    async def __call__(self, uow: UnitOfWork, payment: Payment, receipt: VendResult) -> None:
        """Queue ``vend:<id>:token``; remember (payment's status and vend, the receipt's vend)."""
        self.seen.append((payment.status, payment.vend_id, receipt.vend_id))
        await outbox.enqueue_sms(
            uow,
            dedupe_key=outbox.token_sms_key(receipt.vend_id),
            msisdn=payment.msisdn,
            text="Token",
            kind="token",
            now=self.world.clock(),
        )
        if self.fail:
            raise RuntimeError("the outbox insert failed")


async def test_a_paid_report_commits_the_vend_and_vended_together(world: World) -> None:
    """A PAID report: 2 commits in 2 units of work, where there were 3 and 3.

    Before: the report (PAID) committed (1), ``vend_credit`` committed the vend (2), a third
    unit of work locked the payment and committed VENDED with its "vend" event (3). Now the
    third is done inside the second: 3 - 1 = 2 commits and 2 units of work. The hook ran once,
    in that transaction, with the payment already VENDED with the vend's id, and its SMS is
    stored: the only row in the outbox.
    """
    payment = await start(world, ScriptedProvider())
    core, counts = counted(world.core)
    hook = SmsHook(world)
    paid = await apply_payment_result(core, result(_ref(payment)), on_vended=hook)
    assert (counts.commits, counts.opened) == (2, 2)
    assert paid.status is PaymentStatus.VENDED
    vend_id = paid.vend_id
    assert hook.seen == [(PaymentStatus.VENDED, vend_id, vend_id)]
    assert await get_payment(world.core, payment.id) == paid
    async with world.core.read_uow() as uow:
        kinds = [e.kind for e in await uow.payments.events(payment.id)]
    assert kinds == ["created", "accepted", "report", "vend"]
    assert vend_id is not None
    queued = await queued_sms(world.core)
    assert [m.dedupe_key for m in queued] == [f"vend:{vend_id}:token"]
    assert await _vends(world) == 1


async def test_a_failing_hook_stores_nothing_of_the_vend_then_a_retry_vends_once(
    world: World,
) -> None:
    """The hook raises after queuing its SMS: no vend, no SMS, the payment PAID; retry: one.

    The whole vend transaction is rolled back: no vend (reprint lists none), no outbox row,
    the payment PAID with ``vend-transient`` after 1 attempt, and the idempotency key free (or
    the retry would replay or wait instead of vending). 30 s later (the first backoff) the
    retry vends once: VENDED, one vend, one SMS; the token loads 43.4 kWh on the reference
    meter (so the meter's TID and totals were rolled back too); a second retry finds nothing.
    """
    payment = await start(world, ScriptedProvider())
    failing = SmsHook(world, fail=True)
    paid = await apply_payment_result(world.core, result(_ref(payment)), on_vended=failing)
    assert len(failing.seen) == 1
    assert (paid.status, paid.vend_id, paid.vend_error, paid.vend_attempts) == (
        PaymentStatus.PAID,
        None,
        "vend-transient",
        1,
    )
    assert await get_payment(world.core, payment.id) == paid
    assert await _vends(world) == 0
    assert await payment_vend(world.core, payment.id) is None
    assert await queued_sms(world.core) == []
    world.clock.advance(seconds=30)
    working = SmsHook(world)
    (retried,) = await retry_paid_not_vended(world.core, on_vended=working)
    assert retried.status is PaymentStatus.VENDED
    assert len(working.seen) == 1
    assert await _vends(world) == 1
    queued = await queued_sms(world.core)
    assert [m.dedupe_key for m in queued] == [f"vend:{retried.vend_id}:token"]
    vend = await payment_vend(world.core, payment.id)
    assert vend is not None
    meter = world.reference_meter()
    assert [meter.enter(t.token).result for t in vend.tokens] == [sts.MeterResult.ACCEPT]
    assert meter.credit_tenths() == UNITS_R100
    world.clock.advance(hours=1)
    assert await retry_paid_not_vended(world.core, on_vended=working) == []
    assert len(working.seen) == 1


async def test_a_replayed_vend_records_vended_on_its_own_without_the_hook(world: World) -> None:
    """A vend stored without its VENDED record (an older version's crash): recorded, no hook.

    The payment is left PAID by a blocked meter, then its vend is stored under the payment's
    idempotency key directly, as the old separate step did before crashing. The retry's
    ``vend_credit`` replays it: the hook does not run (the caller queues the SMS of a stored
    vend itself), and VENDED with that vend's id is the retry's only commit (the replay
    commits nothing). One vend in all.
    """
    payment = await start(world, ScriptedProvider())
    await block_meter(world.core, world.meter_number, reason="audit", actor="ops")
    await apply_payment_result(world.core, result(_ref(payment)))
    await unblock_meter(world.core, world.meter_number, reason="ok", actor="ops")
    ctx = RequestContext(client_id=PAYMENT_CLIENT_ID, request_id=payment.id, channel="ussd")
    earlier = await vend_credit(world.core, ctx, world.meter_number, R100)
    assert (await get_payment(world.core, payment.id)).status is PaymentStatus.PAID
    world.clock.advance(seconds=30)
    core, counts = counted(world.core)
    hook = SmsHook(world)
    (retried,) = await retry_paid_not_vended(core, on_vended=hook)
    assert (retried.status, retried.vend_id) == (PaymentStatus.VENDED, earlier.vend_id)
    assert hook.seen == []
    assert counts.commits == 1
    assert await _vends(world) == 1
    assert await queued_sms(world.core) == []
