"""Paid purchases through :class:`gateway.purchases.Purchases`: vend, VENDED and token SMS.

On memory, SQLite and PostgreSQL. A PAID provider result lands in ``Purchases.apply`` as a
callback would deliver it. The new vend's SMS text is made from its receipt
(``token_params``), a replayed vend's from the stored vend (``token_sms``): they must be the
same bytes. Units by hand from the flat tariff (R2.00/kWh excl. VAT, VAT 15 % inclusive):
R10,000.00 -> VAT 1,000,000*15/115 = 130,434.78 -> 130,435 -> net 869,565 / 200 =
4,347.825 kWh -> 43,478 tenths paid. That is above what an STS amount carries exactly
(16,383 tenths); at exponent 1 a token carries 16,384 + 10*m, so the sale is the largest such
value not above 43,478: m = floor((43,478 - 16,384) / 10) = 2,709, 43,474 tenths ("4347.4").
The receipt's units are the token's, ``token_sms``'s the stored breakdown's: in the exact
range they cannot differ, in the stepped one they agree only if the sale is priced at a value
a token carries, so R10,000.00 is the amount that would show a difference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.metrics import Metrics
from gateway.purchases import Purchases, token_params, token_sms
from tests.support.core_world import Clock, seed
from tests.support.transactions import counted, queued_sms
from ussd_menus.actions import PaymentStarted, StartPurchase
from ussd_menus.menu_kit import token_groups
from ussd_menus.texts import render_text
from vending_core.adapters.memory import MemoryKeyStore, memory_uow_factory
from vending_core.adapters.sql import sql_uow_factory
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.domain.records import TokenKind, Vend
from vending_core.service import outbox, payments, profiles
from vending_core.service.core import Core, RequestContext
from vending_core.service.messaging_records import OutboxMessage
from vending_core.service.operations import block_meter, unblock_meter
from vending_core.service.payment_ports import (
    PaymentAccepted,
    PaymentOutcome,
    PaymentRequest,
    ProviderResult,
)
from vending_core.service.ports import UnitOfWork, UnitOfWorkFactory
from vending_core.service.vending import vend_credit

R10000 = 1_000_000
PHONE = "254712345678"
METER = "00000000000"


class AcceptingProvider:
    """A provider that accepts every request as ``REF-<n>`` (its reports are built below)."""

    name = "scripted"

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Record the request; accept it."""
        self.requests.append(request)
        return PaymentAccepted(provider_reference=f"REF-{len(self.requests)}")

    async def query(self, provider_reference: str) -> ProviderResult:
        """Not used: no payment stays pending in these tests."""
        raise NotImplementedError

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """Not used: tests build results directly."""
        raise NotImplementedError


def paid(payment: Payment) -> ProviderResult:
    """The provider's PAID report for the whole amount of ``payment``."""
    assert payment.provider_reference is not None
    return ProviderResult(
        provider="scripted",
        provider_reference=payment.provider_reference,
        outcome=PaymentOutcome.PAID,
        amount=payment.amount,
        receipt=f"RCP-{payment.provider_reference}",
    )


@pytest.fixture
def clock() -> Clock:
    """2026-03-10 09:30 UTC."""
    return Clock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """Units of work on the memory twin, then a fresh SQLite file, then PostgreSQL (emptied)."""
    if request.param == "memory":
        return memory_uow_factory()
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return sql_uow_factory(engine)


@pytest.fixture
async def core(uow_factory: UnitOfWorkFactory, clock: Clock) -> Core:
    """A core seeded with the demo meter 00000000000 (flat tariff, no FBE, no debt)."""
    built = Core(uow=uow_factory, keys=MemoryKeyStore(), clock=clock, random_nibble=lambda: 5)
    assert await seed(built) == METER
    return built


class Wakes:
    """The outbox dispatcher's wake-up, counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        """One wake-up."""
        self.count += 1


def purchases(
    core: Core, clock: Clock, wakes: Callable[[], None], *, token_wait: float = 0
) -> Purchases:
    """The gateway's purchases on ``core``, with the accepting provider as the default."""
    return Purchases(
        core=core,
        providers={"scripted": AcceptingProvider()},
        default_provider="scripted",
        currency="ZAR",
        payment_ttl=600,
        token_wait=token_wait,
        metrics=Metrics(),
        wake_outbox=wakes,
        clock=clock,
    )


async def buy_by_sms(shop: Purchases, request_id: str = "m1") -> Payment:
    """An SMS purchase of R10,000.00 for the demo meter (PENDING, accepted by the provider)."""
    return await shop.start_sms(
        meter=METER, amount=R10000, msisdn=PHONE, request_id=request_id, channel="at"
    )


async def stored_vend(core: Core, payment_id: str) -> Vend:
    """The payment's vend, read back from the database (the payment must be VENDED)."""
    async with core.read_uow() as uow:
        payment = await uow.payments.get(payment_id)
        assert payment is not None
        assert payment.vend_id is not None
        vend = await uow.vends.get(payment.vend_id)
    assert vend is not None
    return vend


async def vend_count(core: Core) -> int:
    """How many vends the demo meter has."""
    async with core.read_uow() as uow:
        meter = await uow.meters.get_by_number(METER)
        assert meter is not None
        assert meter.id is not None
        return len(await uow.vends.for_meter(meter.id, limit=100))


async def token_sms_queued_once(
    core: Core, clock: Clock, shop: Purchases, wakes: Wakes, payment_id: str
) -> None:
    """One SMS queued, the dispatcher woken once; maintenance 5 min later adds neither.

    The SMS is the English token SMS (no language chosen) of the vend stored for
    ``payment_id``, under that vend's key; after the second round there is still one vend
    and one SMS.
    """
    vend = await stored_vend(core, payment_id)
    (message,) = await queued_sms(core)
    assert (message.dedupe_key, message.text) == (f"vend:{vend.id}:token", token_sms(vend, "en"))
    assert wakes.count == 1
    clock.advance(minutes=5)
    await shop.maintain()
    assert await vend_count(core) == 1
    assert len(await queued_sms(core)) == 1


async def test_a_paid_purchase_commits_vend_vended_and_token_sms_together(
    core: Core, clock: Clock
) -> None:
    """``apply`` of a PAID report: 2 commits in 2 units of work, where there were 4 and 5.

    Before: the report (1), the vend (2), VENDED (3) and the token SMS (4) each committed,
    and the phone's language was read in a fifth, read-only unit of work. Now VENDED and
    the SMS are in the vend's transaction: 4 - 2 = 2 commits, 2 units of work. After it the
    payment is VENDED with its one vend, the outbox holds exactly one row, ``vend:<id>:token``
    to the buyer, in the language the phone chose (French), byte for byte the text
    ``token_sms`` gives for the vend as stored (by hand: "Compteur 00000000000 : payé 10000,
    4347.4 unités." and the token in groups of four); the dispatcher is woken once.
    """
    await profiles.set_language(core.uow, PHONE, "fr", clock=clock)
    wakes = Wakes()
    counted_core, counts = counted(core)
    shop = purchases(counted_core, clock, wakes)
    payment = await buy_by_sms(shop)
    before = (counts.commits, counts.opened)
    await shop.apply(paid(payment))
    assert (counts.commits - before[0], counts.opened - before[1]) == (2, 2)
    stored = await payments.get_payment(core, payment.id)
    assert stored.status is PaymentStatus.VENDED
    vend = await stored_vend(core, payment.id)
    assert await vend_count(core) == 1
    (credit,) = vend.tokens
    assert (credit.kind, credit.tenths) == (TokenKind.CREDIT, 43_474)
    (message,) = await queued_sms(core)
    assert (message.dedupe_key, message.msisdn, message.kind) == (
        f"vend:{vend.id}:token",
        PHONE,
        "token",
    )
    assert message.text == token_sms(vend, "fr")
    assert message.text == (
        f"Compteur {METER} : payé 10000, 4347.4 unités.\nCode : {token_groups(credit.token)}"
    )
    assert wakes.count == 1


async def test_a_failing_token_sms_stores_nothing_then_maintenance_vends_once(
    core: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SMS insert fails (after it ran): no vend, payment PAID, no SMS; the retry: one each.

    The failure rolls back the vend's whole transaction: no vend row, no outbox row, the
    payment PAID with ``vend-transient``, nothing to wake. Once the outbox works again,
    maintenance 30 s later (the first backoff) retries: VENDED, one vend, one token SMS (in
    English: no language chosen), the dispatcher woken; a second round adds nothing.
    """
    real_enqueue = outbox.enqueue_sms

    async def failing_enqueue(
        uow: UnitOfWork, *, dedupe_key: str, msisdn: str, text: str, kind: str, now: datetime
    ) -> OutboxMessage:
        await real_enqueue(uow, dedupe_key=dedupe_key, msisdn=msisdn, text=text, kind=kind, now=now)
        raise RuntimeError("the database failed after the insert")

    wakes = Wakes()
    shop = purchases(core, clock, wakes)
    payment = await buy_by_sms(shop)
    monkeypatch.setattr(outbox, "enqueue_sms", failing_enqueue)
    await shop.apply(paid(payment))
    monkeypatch.undo()
    after = await payments.get_payment(core, payment.id)
    assert (after.status, after.vend_id, after.vend_error) == (
        PaymentStatus.PAID,
        None,
        "vend-transient",
    )
    assert await vend_count(core) == 0
    assert await queued_sms(core) == []
    assert wakes.count == 0
    clock.advance(seconds=30)
    await shop.maintain()
    vended = await payments.get_payment(core, payment.id)
    assert vended.status is PaymentStatus.VENDED
    assert await vend_count(core) == 1
    await token_sms_queued_once(core, clock, shop, wakes, payment.id)


async def test_a_replayed_vend_gets_its_token_sms_queued_apart_once(
    core: Core, clock: Clock
) -> None:
    """A vend stored without VENDED or SMS (an older version's crash): maintenance sends one.

    The payment is left PAID by a blocked meter; its vend is then stored under the payment's
    idempotency key directly. The retry replays it (no hook), records VENDED, and the token
    SMS is queued in a transaction of its own: one row, ``token_sms`` of the stored vend. A
    second maintenance round (its re-queue sweep included) finds the key taken: still one.
    """
    wakes = Wakes()
    shop = purchases(core, clock, wakes)
    payment = await buy_by_sms(shop)
    await block_meter(core, METER, reason="audit", actor="ops")
    await shop.apply(paid(payment))
    await unblock_meter(core, METER, reason="ok", actor="ops")
    ctx = RequestContext(client_id=payments.PAYMENT_CLIENT_ID, request_id=payment.id, channel="sms")
    earlier = await vend_credit(core, ctx, METER, R10000)
    clock.advance(seconds=30)
    await shop.maintain()
    vended = await payments.get_payment(core, payment.id)
    assert (vended.status, vended.vend_id) == (PaymentStatus.VENDED, earlier.vend_id)
    await token_sms_queued_once(core, clock, shop, wakes, payment.id)


async def test_an_api_sale_is_vended_without_a_token_sms(core: Core, clock: Clock) -> None:
    """Channel "api": the client gets the token in the answer, so no SMS, no wake-up.

    The payment still ends VENDED with its one vend, in 2 commits (report, vend).
    """
    wakes = Wakes()
    counted_core, counts = counted(core)
    shop = purchases(counted_core, clock, wakes)
    payment = await payments.start_purchase(
        counted_core,
        AcceptingProvider(),
        msisdn=PHONE,
        meter=METER,
        amount=R10000,
        channel="api",
        client_id="bank",
        request_id="api-1",
        ttl=timedelta(minutes=10),
    )
    before = counts.commits
    await shop.apply(paid(payment))
    assert counts.commits - before == 2
    assert (await payments.get_payment(core, payment.id)).status is PaymentStatus.VENDED
    assert await vend_count(core) == 1
    assert await queued_sms(core) == []
    assert wakes.count == 0


@pytest.mark.parametrize(("amount", "units"), [(10_000, "43.4"), (R10000, "4347.4")])
async def test_the_receipts_text_is_the_stored_vends_text_in_every_language(
    core: Core, amount: int, units: str
) -> None:
    """For R100.00 (434 tenths, exact) and R10,000.00 (43,474, stepped): the same bytes.

    The hook's text (``sms.token`` with ``token_params`` of the fresh receipt) equals
    ``token_sms`` of the vend read back from the database, in each of the four languages; the
    units are the hand-calculated ones (R100.00: net 8,696 / 200 = 43.48 kWh -> 43.4).
    """
    ctx = RequestContext(client_id="test", request_id=f"r{amount}", channel="sms")
    receipt = await vend_credit(core, ctx, METER, amount)
    async with core.read_uow() as uow:
        vend = await uow.vends.get(receipt.vend_id)
    assert vend is not None
    for language in sorted(profiles.LANGUAGES):
        from_receipt = render_text(language, "sms.token", token_params(receipt))
        assert from_receipt == token_sms(vend, language), language
        assert f" {units}" in from_receipt, language


async def test_a_payer_no_sms_can_reach_still_gets_the_vend(core: Core, clock: Clock) -> None:
    """A paid purchase whose payer's number is not a phone is vended; no SMS is queued.

    Queuing the token SMS in the vend's transaction must never keep a paid customer from the
    token: an SMS that cannot be addressed is skipped (logged), the vend commits, the payment
    is VENDED. "12" has 2 digits, not an international number (outbox.normalise_msisdn); the
    channels refuse such a number before a payment exists, so the payment is started here
    through the core, as a future channel that forgot to might. Maintenance's sweep of vends
    without a token SMS then skips it as well, without an error.
    """
    wakes = Wakes()
    shop = purchases(core, clock, wakes)
    payment = await payments.start_purchase(
        core,
        shop.providers["scripted"],
        msisdn="12",
        meter=METER,
        amount=R10000,
        channel="ussd",
        client_id="ussd",
        request_id="short-number",
        ttl=timedelta(minutes=10),
        currency="ZAR",
    )
    with pytest.raises(ValueError, match="not an international phone number"):
        outbox.normalise_msisdn(payment.msisdn)
    await shop.apply(paid(payment))
    vended = await payments.get_payment(core, payment.id)
    assert vended.status is PaymentStatus.VENDED
    assert await vend_count(core) == 1
    assert await queued_sms(core) == []
    await shop.maintain()  # its sweep of vends without a token SMS skips this one too
    assert await queued_sms(core) == []


async def test_the_waiting_ussd_hop_is_handed_the_new_vends_receipt(clock: Clock) -> None:
    """The pay hop waiting for its token gets the receipt from the vend made in this process.

    On the memory twin (its units of work never wait, so the hop is waiting after a few
    turns of the loop, long before its first 0.1 s poll): the hop starts its payment and
    waits; the provider's PAID report is applied; the hop then answers with the token and
    the units (43,474 tenths by hand, see the module docstring) without opening one more
    unit of work, where it used to read the payment and then the vend back.
    """
    core = Core(
        uow=memory_uow_factory(), keys=MemoryKeyStore(), clock=clock, random_nibble=lambda: 5
    )
    assert await seed(core) == METER
    counted_core, counts = counted(core)
    shop = purchases(counted_core, clock, Wakes(), token_wait=5)
    action = StartPurchase(meter=METER, amount=R10000, msisdn=PHONE, idempotency_key="hop-1")
    hop = asyncio.create_task(shop.start_ussd(action))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not hop.done()
    payment = await payments.find_payment(core, "ussd", "hop-1")
    assert payment is not None
    assert payment.provider_reference == "REF-1"
    await shop.apply(paid(payment))
    opened = counts.opened
    started = await asyncio.wait_for(hop, timeout=1)
    assert counts.opened == opened
    vend = await stored_vend(core, payment.id)
    assert isinstance(started, PaymentStarted)
    assert (started.token, started.units_tenths) == (vend.tokens[0].token, 43_474)
