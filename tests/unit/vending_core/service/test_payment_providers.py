"""Wallet and voucher providers wired to the apply step, on memory, SQLite and PostgreSQL.

Both report PAID from inside ``start`` through ``deliver`` (= ``apply_payment_result``), so
a purchase ends VENDED when ``start_purchase`` returns. Units by hand from the flat tariff
(R2.00/kWh excl. VAT, VAT 15 % inclusive): R100.00 -> 8695.65 net / 200 -> 43.4 kWh.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sts
from tests.support.core_world import World
from vending_core.adapters.payments_voucher import (
    LockoutPolicy,
    VoucherProvider,
    create_vouchers,
    pin_hash,
)
from vending_core.adapters.payments_wallet import WalletProvider, credit_wallet
from vending_core.domain.payments import Payment, PaymentStatus, VoucherStatus
from vending_core.service.payment_ports import (
    Deliver,
    PaymentOutcome,
    PaymentRequest,
    ProviderResult,
)
from vending_core.service.payments import apply_payment_result, payment_vend, start_purchase
from vending_core.service.vending import reprint

MSISDN = "254712345678"
R100 = 10_000
UNITS_R100 = 434
SALT = b"test-salt-not-a-real-secret"


def _deliver(world: World) -> Deliver:
    async def deliver(result: ProviderResult) -> None:
        await apply_payment_result(world.core, result)

    return deliver


def wallet(world: World) -> WalletProvider:
    """A wallet provider on the world's database, reporting into the apply step."""
    return WalletProvider(world.core.uow, _deliver(world), clock=world.clock)


def voucher(world: World, policy: LockoutPolicy | None = None) -> VoucherProvider:
    """A voucher provider on the world's database, reporting into the apply step."""
    return VoucherProvider(
        world.core.uow,
        SALT,
        _deliver(world),
        policy=policy,
        clock=world.clock,
    )


async def buy(
    world: World, provider: WalletProvider | VoucherProvider, request_id: str, **extra: str
) -> Payment:
    """A R100 purchase for the demo meter, paid with ``provider``."""
    return await start_purchase(
        world.core,
        provider,
        msisdn=extra.get("msisdn", MSISDN),
        meter=world.meter_number,
        amount=R100,
        channel="ussd",
        client_id="ussd-at",
        request_id=request_id,
        ttl=timedelta(minutes=10),
        secret=extra.get("secret"),
    )


async def _loads_r100(world: World, payment: Payment) -> None:
    vend = await payment_vend(world.core, payment.id)
    assert vend is not None
    meter = world.reference_meter()
    assert [meter.enter(t.token).result for t in vend.tokens] == [sts.MeterResult.ACCEPT]
    assert meter.credit_tenths() == UNITS_R100


async def test_wallet_pays_and_vends(world: World) -> None:
    """R150 balance pays R100: VENDED at once, balance 50.00, the token loads 43.4 kWh."""
    now = world.clock()
    assert await credit_wallet(world.core.uow, MSISDN, 15_000, "topup-1", now) == 15_000
    payment = await buy(world, wallet(world), "w1")
    assert payment.status is PaymentStatus.VENDED
    async with world.core.uow() as uow:
        assert await uow.wallets.balance(MSISDN) == 5_000
        entries = await uow.wallets.entries(MSISDN)
    assert [(e.amount, e.balance_after, e.kind) for e in entries] == [
        (15_000, 15_000, "top_up"),
        (-10_000, 5_000, "payment"),
    ]
    await _loads_r100(world, payment)


async def test_wallet_insufficient_funds_fails_without_debit(world: World) -> None:
    """R99.99 cannot pay R100: FAILED "insufficient", balance unchanged; no wallet: same."""
    await credit_wallet(world.core.uow, MSISDN, 9_999, "topup-1", world.clock())
    short = await buy(world, wallet(world), "w1")
    assert (short.status, short.reason) == (PaymentStatus.FAILED, "insufficient")
    nobody = await buy(world, wallet(world), "w2", msisdn="254700000000")
    assert (nobody.status, nobody.reason) == (PaymentStatus.FAILED, "insufficient")
    async with world.core.uow() as uow:
        assert await uow.wallets.balance(MSISDN) == 9_999
    assert await reprint(world.core, world.meter_number) == []


async def test_wallet_debit_is_idempotent(world: World) -> None:
    """A retried start for one payment id debits once; a repeated top-up credits once."""
    now = world.clock()
    await credit_wallet(world.core.uow, MSISDN, 30_000, "topup-1", now)
    assert await credit_wallet(world.core.uow, MSISDN, 30_000, "topup-1", now) == 30_000
    provider = WalletProvider(world.core.uow, clock=world.clock)  # no deliver: debit only
    request = PaymentRequest(
        payment_id="p-1", msisdn=MSISDN, amount=R100, currency="KES", account_reference="m"
    )
    await asyncio.gather(*(provider.start(request) for _ in range(5)))
    async with world.core.uow() as uow:
        assert await uow.wallets.balance(MSISDN) == 20_000
        assert len(await uow.wallets.entries(MSISDN)) == 2
    answer = await provider.query("p-1")
    assert (answer.outcome, answer.amount) == (PaymentOutcome.PAID, R100)
    assert (await provider.query("p-2")).outcome is PaymentOutcome.FAILED


async def test_voucher_pays_once(world: World) -> None:
    """A R100 card: the first purchase VENDED; the same PIN again FAILED "voucher-used"."""
    ((serial, pin),) = await create_vouchers(world.core.uow, "B1", 1, R100, SALT, world.clock())
    assert len(pin) == 16
    assert pin.isdigit()
    first = await buy(world, voucher(world), "v1", secret=pin)
    assert first.status is PaymentStatus.VENDED
    assert first.receipt == f"V-{serial}"
    await _loads_r100(world, first)
    again = await buy(world, voucher(world), "v2", secret=pin)
    assert (again.status, again.reason) == (PaymentStatus.FAILED, "voucher-used")
    async with world.core.uow() as uow:
        card = await uow.vouchers.get_by_pin_hash(pin_hash(pin, SALT))
    assert card is not None
    assert (card.status, card.payment_id, card.redeemed_by) == (
        VoucherStatus.REDEEMED,
        first.id,
        MSISDN,
    )


async def test_voucher_amount_must_equal_face_value(world: World) -> None:
    """A R50 card cannot pay a R100 purchase: "voucher-amount", the card stays active."""
    ((_, pin),) = await create_vouchers(world.core.uow, "B1", 1, 5_000, SALT, world.clock())
    payment = await buy(world, voucher(world), "v1", secret=pin)
    assert (payment.status, payment.reason) == (PaymentStatus.FAILED, "voucher-amount")
    async with world.core.uow() as uow:
        card = await uow.vouchers.get_by_pin_hash(pin_hash(pin, SALT))
    assert card is not None
    assert card.status is VoucherStatus.ACTIVE


async def test_voucher_single_use_under_twenty_concurrent_redemptions(world: World) -> None:
    """Twenty purchases race on one PIN: exactly one VENDED and one vend; nineteen FAILED."""
    ((_, pin),) = await create_vouchers(world.core.uow, "B1", 1, R100, SALT, world.clock())
    relaxed = LockoutPolicy(max_failures=100)
    payments = await asyncio.gather(
        *(
            buy(world, voucher(world, relaxed), f"v{n}", secret=pin, msisdn=f"2547000000{n:02d}")
            for n in range(20)
        )
    )
    statuses = [p.status for p in payments]
    assert statuses.count(PaymentStatus.VENDED) == 1
    assert statuses.count(PaymentStatus.FAILED) == 19
    assert {p.reason for p in payments if p.status is PaymentStatus.FAILED} == {"voucher-used"}
    assert len(await reprint(world.core, world.meter_number)) == 1


async def test_voucher_lockout_after_five_wrong_pins(world: World) -> None:
    """5 wrong PINs in 15 min lock the msisdn for 30 min, even for the right PIN; then it works.

    Failures at 0, 1, 2, 3, 4 minutes: the fifth (4 min) starts the lock, until 34 min.
    """
    ((_, pin),) = await create_vouchers(world.core.uow, "B1", 1, R100, SALT, world.clock())
    provider = voucher(world)
    for n in range(5):
        wrong = await buy(world, provider, f"bad{n}", secret=f"{n:016d}")
        assert wrong.reason == "voucher-invalid"
        world.clock.advance(minutes=1)
    world.clock.advance(minutes=28, seconds=59)  # the loop ended at 5:00; now 33:59
    locked = await buy(world, provider, "right-too-early", secret=pin)
    assert (locked.status, locked.reason) == (PaymentStatus.FAILED, "voucher-locked")
    other = await buy(world, provider, "other-phone", secret="9" * 16, msisdn="254799999999")
    assert other.reason == "voucher-invalid"  # the lock is per msisdn
    world.clock.advance(seconds=1)  # 34:00
    paid = await buy(world, provider, "right", secret=pin)
    assert paid.status is PaymentStatus.VENDED


async def test_failures_spread_over_more_than_the_window_do_not_lock(world: World) -> None:
    """Five failures 4 minutes apart span 16 min > 15 min window: no lock, the PIN works."""
    ((_, pin),) = await create_vouchers(world.core.uow, "B1", 1, R100, SALT, world.clock())
    provider = voucher(world)
    for n in range(5):
        await buy(world, provider, f"bad{n}", secret=f"{n:016d}")
        world.clock.advance(minutes=4)
    paid = await buy(world, provider, "right", secret=pin)
    assert paid.status is PaymentStatus.VENDED
