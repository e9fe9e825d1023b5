"""Selling: confirm the customer, quote, vend credit, free basic electricity, reprint.

Each state-changing use case runs in one unit of work that first claims the request's
idempotency key: a replay (or a concurrent duplicate, which waits for the first) gets
the stored result, never a second vend. The meter row is locked before TIDs are
allocated, so two vends for one meter can never share a TID, in any process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import sts
from vending_core.domain.errors import (
    FreeBasicNotDue,
    KeyDataError,
    VendingError,
    VendorFloatExhausted,
)
from vending_core.domain.model import Meter, Tariff
from vending_core.domain.pricing import (
    Breakdown,
    PurchaseInput,
    apply_debt_lines,
    fbe_due_tenths,
    price_free_basic,
    price_purchase,
    record_purchase,
)
from vending_core.domain.records import IssuedToken, TokenKind, Vend, VendKind, VendorEntry
from vending_core.domain.tids import allocate_tids
from vending_core.service.core import (
    Core,
    RequestContext,
    ensure_active,
    find_meter_detail,
    fingerprint,
    record_vend,
    replay,
    store_vend,
)
from vending_core.service.ports import MeterDetail, UnitOfWork
from vending_core.service.results import CustomerInfo, VendResult

__all__ = ["VendHook", "confirm_customer", "issue_free_basic", "quote", "reprint", "vend_credit"]

#: A caller's step inside a new vend's unit of work (:func:`vend_credit`'s ``within``): it gets
#: the unit of work and the vend's receipt; what it writes commits with the vend, or, if it
#: raises, nothing of either is stored.
VendHook = Callable[[UnitOfWork, VendResult], Awaitable[None]]


def _tariff(detail: MeterDetail) -> Tariff:
    if detail.tariff is None:
        meter = detail.meter
        raise KeyDataError(f"meter {meter.number} has tariff {meter.tariff_code}, not configured")
    return detail.tariff


def _customer_name(detail: MeterDetail) -> str:
    return detail.customer.name if detail.customer else ""


async def confirm_customer(core: Core, meter_number: str) -> CustomerInfo:
    """Who the meter belongs to and whether it can be sold to (no state change)."""
    async with core.read_uow() as uow:
        detail = await find_meter_detail(uow, meter_number)
    meter, customer, tariff = detail.meter, detail.customer, _tariff(detail)
    today = core.now().astimezone(core.tz).date()
    reason = None
    try:
        ensure_active(meter)
    except VendingError as exc:
        reason = exc.code
    return CustomerInfo(
        meter_number=meter.number,
        utility=meter.utility.name.lower(),
        name=customer.name if customer else "",
        address=customer.address if customer else "",
        can_vend=reason is None,
        reason=reason,
        fbe_due_tenths=fbe_due_tenths(
            registered=meter.fbe_registered,
            last_fbe_month=meter.last_fbe_month,
            tariff=tariff,
            today=today,
        ),
        min_amount=tariff.min_purchase,
        max_amount=tariff.max_purchase,
        language=customer.language if customer else "en",
    )


def _price(core: Core, detail: MeterDetail, amount: int) -> Breakdown:
    meter, tariff = detail.meter, _tariff(detail)
    today = core.now().astimezone(core.tz).date()
    fbe = fbe_due_tenths(
        registered=meter.fbe_registered,
        last_fbe_month=meter.last_fbe_month,
        tariff=tariff,
        today=today,
    )
    return price_purchase(
        PurchaseInput(
            gross=amount,
            tariff=tariff,
            today=today,
            month=meter.month,
            month_tenths=meter.month_tenths,
            charged_up_to=meter.charged_up_to,
            charges_owing=meter.charges_owing,
            debts=detail.debts,
            fbe_tenths=fbe,
        )
    )


def _id(meter: Meter) -> int:
    if meter.id is None:  # pragma: no cover - loaded meters have ids
        raise ValueError("meter has no id")
    return meter.id


async def quote(core: Core, meter_number: str, amount: int) -> Breakdown:
    """A trial vend: the full split for ``amount`` (minor units), nothing stored."""
    async with core.read_uow() as uow:
        detail = await find_meter_detail(uow, meter_number)
        ensure_active(detail.meter)
        return _price(core, detail, amount)


@dataclass(frozen=True, slots=True)
class _Mint:
    kind: TokenKind
    tenths: int
    description: str


def _mint(
    core: Core, key: sts.DecoderKey, meter: Meter, now: datetime, wanted: list[_Mint]
) -> tuple[IssuedToken, ...]:
    tids = allocate_tids(meter, now, len(wanted))
    tokens = []
    for sequence, (want, tid) in enumerate(zip(wanted, tids, strict=True), start=1):
        value = sts.TransferCredit.of(meter.utility, want.tenths, tid=tid, rnd=core.random_nibble())
        tokens.append(
            IssuedToken(
                sequence=sequence,
                kind=want.kind,
                token=sts.encode(value, key),
                tid=tid,
                tenths=value.value_tenths,
                description=want.description,
            )
        )
    return tuple(tokens)


@dataclass(frozen=True, slots=True)
class _Seller:
    """The vendor of a sale as read (unlocked) before it: who, and its commission."""

    vendor_id: int
    commission: int


async def _seller(
    uow: UnitOfWork, ctx: RequestContext, meter: Meter, amount: int
) -> _Seller | None:
    """The selling vendor (None when the sale has none), checked before anything is minted.

    Read without a lock: the float is taken at the very end by :func:`_take_float`, whose
    conditional update is the real check; this one refuses early and cheaply.
    """
    if ctx.vendor_code is None:
        return None
    vendor = await uow.vendors.get_by_code(ctx.vendor_code)
    if vendor is None or vendor.id is None:
        raise VendorFloatExhausted(f"vendor {ctx.vendor_code} is not registered")
    if vendor.allowed_sgcs and meter.sgc not in vendor.allowed_sgcs:
        raise KeyDataError(f"vendor {vendor.code} may not sell on supply group {meter.sgc}")
    if vendor.balance + vendor.credit_limit < amount:
        raise _exhausted(ctx.vendor_code, vendor.balance + vendor.credit_limit, amount)
    return _Seller(vendor.id, int((vendor.commission * amount).to_integral_value()))


def _exhausted(code: str, available: int | None, amount: int) -> VendorFloatExhausted:
    has = "not enough" if available is None else str(available)
    return VendorFloatExhausted(f"vendor {code} has {has} available, the sale needs {amount}")


async def _take_float(
    uow: UnitOfWork, ctx: RequestContext, seller: _Seller, vend: Vend, now: datetime
) -> None:
    """Debit the sale (less commission) from the float, if it still covers the gross.

    One conditional statement, the last before the COMMIT: every sale of a vendor queues on
    its row, which is locked only from here to the end of the unit of work.
    """
    entry = VendorEntry(
        vendor_id=seller.vendor_id,
        at=now,
        amount=-(vend.gross - seller.commission),
        balance_after=0,  # set by the movement
        kind="sale",
        vend_id=vend.id,
    )
    if await uow.vendors.move(entry, covers=vend.gross) is None:
        raise _exhausted(str(ctx.vendor_code), None, vend.gross)


def _receipt(breakdown: Breakdown) -> dict[str, object]:
    data = breakdown.to_dict()
    data["lines"] = [list(line) for line in breakdown.lines()]
    data["step_text"] = [f"{s.tenths / 10:.1f} kWh @ {s.rate:.2f} c/kWh" for s in breakdown.steps]
    return data


def _wanted(breakdown: Breakdown) -> list[_Mint]:
    wanted = []
    if breakdown.fbe_tenths:
        wanted.append(_Mint(TokenKind.FREE_BASIC, breakdown.fbe_tenths, "free basic"))
    wanted.append(_Mint(TokenKind.CREDIT, breakdown.credit_tenths, "credit"))
    return wanted


async def vend_credit(
    core: Core,
    ctx: RequestContext,
    meter_number: str,
    amount: int,
    *,
    within: VendHook | None = None,
) -> VendResult:
    """Sell ``amount`` (gross, minor units) of credit: one token, plus FBE when due.

    ``within`` is awaited in the vend's unit of work once the vend and its result are recorded,
    before the vendor's float is taken (still the last statement) and the COMMIT: only for a
    new vend, never for a replay. It runs after the meter's row lock is taken, so whatever it
    locks comes after the meter in the lock order. If it raises, the vend is rolled back.
    """
    fp = fingerprint("vend_credit", meter=meter_number, amount=amount, vendor=ctx.vendor_code)
    async with core.uow() as uow:
        if not await uow.requests.claim(ctx.client_id, ctx.request_id, fp):
            return await replay(uow, ctx, fp)
        detail = await find_meter_detail(uow, meter_number, lock=True)
        meter = detail.meter
        ensure_active(meter)
        seller = await _seller(uow, ctx, meter, amount)
        now = core.now()
        breakdown = _price(core, detail, amount)
        tokens = _mint(core, await core.decoder_key(meter), meter, now, _wanted(breakdown))
        for debt in apply_debt_lines(detail.debts, breakdown):
            await uow.debts.update(debt)
        record_purchase(meter, breakdown, now=now)
        await uow.meters.update(meter)
        vend = Vend(
            client_id=ctx.client_id,
            request_id=ctx.request_id,
            kind=VendKind.CREDIT,
            meter_id=_id(meter),
            meter_number=meter.number,
            channel=ctx.channel,
            vendor_code=ctx.vendor_code,
            operator=ctx.operator,
            gross=amount,
            commission=seller.commission if seller else 0,
            breakdown=_receipt(breakdown),
            tariff_code=breakdown.tariff_code,
            tariff_version=breakdown.tariff_version,
            created_at=now,
            tokens=tokens,
        )
        result = await record_vend(uow, ctx, _customer_name(detail), vend)
        if within is not None:
            await within(uow, result)
        if seller is not None:
            await _take_float(uow, ctx, seller, vend, now)
        await uow.commit()
        return result


async def issue_free_basic(core: Core, ctx: RequestContext, meter_number: str) -> VendResult:
    """Claim this month's Free Basic Electricity on its own (once per meter per month)."""
    fp = fingerprint("issue_free_basic", meter=meter_number)
    async with core.uow() as uow:
        if not await uow.requests.claim(ctx.client_id, ctx.request_id, fp):
            return await replay(uow, ctx, fp)
        detail = await find_meter_detail(uow, meter_number, lock=True)
        meter = detail.meter
        ensure_active(meter)
        tariff = _tariff(detail)
        now = core.now()
        today = now.astimezone(core.tz).date()
        fbe = fbe_due_tenths(
            registered=meter.fbe_registered,
            last_fbe_month=meter.last_fbe_month,
            tariff=tariff,
            today=today,
        )
        if not fbe:
            raise FreeBasicNotDue(
                f"meter {meter.number} is not registered for free basic electricity"
                if not meter.fbe_registered
                else f"meter {meter.number} has had this month's free basic electricity"
            )
        breakdown = price_free_basic(
            tariff=tariff,
            today=today,
            month=meter.month,
            month_tenths=meter.month_tenths,
            fbe_tenths=fbe,
        )
        wanted = [_Mint(TokenKind.FREE_BASIC, fbe, "free basic")]
        tokens = _mint(core, await core.decoder_key(meter), meter, now, wanted)
        record_purchase(meter, breakdown, now=now)
        await uow.meters.update(meter)
        return await store_vend(
            uow,
            ctx,
            _customer_name(detail),
            Vend(
                client_id=ctx.client_id,
                request_id=ctx.request_id,
                kind=VendKind.FREE_BASIC,
                meter_id=_id(meter),
                meter_number=meter.number,
                channel=ctx.channel,
                vendor_code=ctx.vendor_code,
                operator=ctx.operator,
                gross=0,
                breakdown=_receipt(breakdown),
                tariff_code=tariff.code,
                tariff_version=tariff.version,
                created_at=now,
                tokens=tokens,
            ),
        )


async def reprint(core: Core, meter_number: str, *, limit: int = 5) -> list[VendResult]:
    """The meter's last vends with their stored tokens, oldest first (enter in this order).

    Never mints: the same tokens come back, marked as copies (``replayed``).
    """
    async with core.read_uow() as uow:
        detail = await find_meter_detail(uow, meter_number)
        vends = await uow.vends.for_meter(_id(detail.meter), limit=limit)
    name = _customer_name(detail)
    return [VendResult.of_vend(v, customer_name=name, replayed=True) for v in reversed(vends)]
