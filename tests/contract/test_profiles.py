"""Phone profiles, balance and token resend on memory, SQLite and PostgreSQL.

Meters come from tests/contract/conftest.py (``add_meter``): DRNs are 11 digits, PANs are
``sts.Pan.parse(drn).digits`` (IIN 600727 + DRN + Luhn check digit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import pytest

import sts
from vending_core.domain.errors import MeterUnknown, TransactionNotFound
from vending_core.domain.model import Debt, DebtMode
from vending_core.domain.records import IssuedToken, TokenKind, Vend, VendKind
from vending_core.service import ports
from vending_core.service.messaging_records import ProfileMeter
from vending_core.service.profiles import (
    MeterListFull,
    UnsupportedLanguage,
    load_profile,
    remove_meter,
    save_meter,
    set_language,
)
from vending_core.service.queries import get_balance, resend_token

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PHONE = "+254 712 345 678"
DIGITS = "254712345678"


class Backend(Protocol):
    """What the ``backend`` fixture gives (tests/contract/conftest.py)."""

    name: str
    new_uow: Callable[[], ports.UnitOfWork]


AddMeter = Callable[..., Awaitable[int]]


def drn(n: int) -> str:
    """The n-th test meter number: 10 digits and their Luhn check digit (IEC 62055-41)."""
    base = f"010101{n:04d}"
    return base + str(sts.identifiers.luhn_digit(base))


async def _meters(backend: Backend, add_meter: AddMeter, count: int) -> list[int]:
    async with backend.new_uow() as uow:
        ids = [
            await add_meter(uow, number=drn(n), pan=sts.Pan.parse(drn(n)).digits)
            for n in range(1, count + 1)
        ]
        await uow.commit()
    return ids


def _clock() -> datetime:
    return T0


async def test_unknown_phone_has_an_empty_profile(backend: Backend) -> None:
    """A phone never seen has no language and no meters."""
    profile = await load_profile(backend.new_uow, PHONE)
    assert (profile.msisdn, profile.language, profile.meters) == (DIGITS, None, ())


async def test_save_rename_remove_keep_the_order_saved(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Meters list in the order saved; a rename keeps the place; removal closes the gap."""
    await _meters(backend, add_meter, 3)
    for n, name in ((1, "Home"), (2, "Shop"), (3, "Farm")):
        await save_meter(backend.new_uow, PHONE, drn(n), name, clock=_clock)
    await save_meter(backend.new_uow, PHONE, drn(1), "  Mum's   house ", clock=_clock)
    profile = await load_profile(backend.new_uow, DIGITS)
    assert profile.meters == (
        ProfileMeter(number=drn(1), name="Mum's house"),
        ProfileMeter(number=drn(2), name="Shop"),
        ProfileMeter(number=drn(3), name="Farm"),
    )
    after = await remove_meter(backend.new_uow, PHONE, drn(2), clock=_clock)
    assert [m.number for m in after.meters] == [drn(1), drn(3)]
    await save_meter(backend.new_uow, PHONE, drn(2), "Shop", clock=_clock)
    final = await load_profile(backend.new_uow, PHONE)
    assert [m.number for m in final.meters] == [drn(1), drn(3), drn(2)]


async def test_meters_typed_as_pan_are_saved_and_removed_by_number(
    backend: Backend, add_meter: AddMeter
) -> None:
    """The 18-digit PAN finds the meter; the list holds its printed 11-digit number."""
    await _meters(backend, add_meter, 1)
    pan = sts.Pan.parse(drn(1)).digits
    saved = await save_meter(backend.new_uow, PHONE, pan, "Home", clock=_clock)
    assert saved.meters == (ProfileMeter(number=drn(1), name="Home"),)
    removed = await remove_meter(backend.new_uow, PHONE, pan, clock=_clock)
    assert removed.meters == ()


async def test_only_registered_meters_and_at_most_ten(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Saving an unknown meter or an eleventh one is refused; renaming a tenth is fine."""
    await _meters(backend, add_meter, 11)
    with pytest.raises(MeterUnknown):
        await save_meter(backend.new_uow, PHONE, drn(99), "Nope", clock=_clock)
    for n in range(1, 11):
        await save_meter(backend.new_uow, PHONE, drn(n), f"M{n}", clock=_clock)
    with pytest.raises(MeterListFull) as refused:
        await save_meter(backend.new_uow, PHONE, drn(11), "Eleven", clock=_clock)
    assert refused.value.code == "meter-list-full"
    renamed = await save_meter(backend.new_uow, PHONE, drn(10), "Ten", clock=_clock)
    assert len(renamed.meters) == 10
    assert renamed.meters[-1] == ProfileMeter(number=drn(10), name="Ten")


async def test_language_is_remembered_and_checked(backend: Backend) -> None:
    """en/fr/sw/ar are kept (case-insensitive); anything else is refused."""
    assert (await set_language(backend.new_uow, PHONE, "SW", clock=_clock)).language == "sw"
    assert (await load_profile(backend.new_uow, PHONE)).language == "sw"
    with pytest.raises(UnsupportedLanguage):
        await set_language(backend.new_uow, PHONE, "de", clock=_clock)
    assert (await load_profile(backend.new_uow, PHONE)).language == "sw"


def _vend(meter_id: int, *, gross: int, kind: VendKind, tenths: int, at: datetime) -> Vend:
    credit = IssuedToken(
        sequence=1,
        kind=TokenKind.CREDIT if kind is VendKind.CREDIT else TokenKind.CLEAR_TAMPER,
        token=f"{gross:020d}",
        tid=gross,
        tenths=tenths,
    )
    return Vend(
        client_id="ussd",
        request_id=f"r{gross}",
        kind=kind,
        meter_id=meter_id,
        meter_number=drn(1),
        channel="ussd",
        gross=gross,
        created_at=at,
        tokens=(credit,),
    )


async def test_balance_reports_debt_and_the_last_completed_purchase(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Debt sums outstanding debts (150.00 + 25.50 = 175.50); engineering vends are skipped."""
    (meter_id,) = await _meters(backend, add_meter, 1)
    async with backend.new_uow() as uow:
        for outstanding in (15_000, 2_550):
            debt = Debt(
                meter_id=meter_id,
                description="arrears",
                outstanding=outstanding,
                mode=DebtMode.PERCENT,
                value=Decimal("0.25"),
            )
            await uow.debts.add(debt)
        bought = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        await uow.vends.add(
            _vend(meter_id, gross=30_000, kind=VendKind.CREDIT, tenths=1028, at=bought)
        )
        await uow.vends.add(_vend(meter_id, gross=0, kind=VendKind.ENGINEERING, tenths=0, at=T0))
        await uow.commit()
    balance = await get_balance(backend.new_uow, drn(1))
    assert (balance.meter, balance.utility) == (drn(1), "water")  # make_meter is a water meter
    assert (balance.debt, balance.charges_owing, balance.owing) == (17_550, 1500, 19_050)
    assert (balance.last_at, balance.last_amount, balance.last_units_tenths) == (
        bought,
        30_000,
        1028,
    )


async def test_balance_of_a_meter_never_sold_to(backend: Backend, add_meter: AddMeter) -> None:
    """No purchase: no date, zero amounts; an unknown meter is refused."""
    await _meters(backend, add_meter, 1)
    balance = await get_balance(backend.new_uow, drn(1))
    assert (balance.last_at, balance.last_amount, balance.last_units_tenths) == (None, 0, 0)
    with pytest.raises(MeterUnknown):
        await get_balance(backend.new_uow, drn(99))


async def test_resend_token_queues_the_stored_token_for_that_meter_only(
    backend: Backend, add_meter: AddMeter
) -> None:
    """The stored token goes out again (once per request key); another meter's vend is hidden."""
    first, second = await _meters(backend, add_meter, 2)
    async with backend.new_uow() as uow:
        vend_id = await uow.vends.add(
            _vend(first, gross=5_000, kind=VendKind.CREDIT, tenths=250, at=T0)
        )
        await uow.commit()

    def render(vend: Vend) -> str:
        return f"Token {vend.tokens[0].token}"

    resent = [
        await resend_token(
            backend.new_uow,
            meter=drn(1),
            vend_id=vend_id,
            msisdn=PHONE,
            request_key="sess-1",
            render=render,
            now=T0,
        )
        for _ in range(2)
    ]
    assert resent[0].token == f"{5_000:020d}"
    assert resent[0].message.id == resent[1].message.id
    assert resent[0].message.text == f"Token {5_000:020d}"
    assert resent[0].message.dedupe_key == f"vend:{vend_id}:token:resend:sess-1"
    with pytest.raises(TransactionNotFound):
        await resend_token(
            backend.new_uow,
            meter=drn(2),
            vend_id=vend_id,
            msisdn=PHONE,
            request_key="sess-2",
            render=render,
            now=T0,
        )
    async with backend.new_uow() as uow:  # resend never re-vends: still one vend, no other
        assert len(await uow.vends.for_meter(first)) == 1
        assert await uow.vends.for_meter(second) == []
