"""Back-office operations on meters and sales.

Reversal, engineering and key change tokens, blocking, and maintenance requests.

Token-issuing operations are idempotent like sales (client id + request id) and lock the
meter before allocating a TID. Key change tokens carry no TID.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sts
from vending_core.domain.errors import (
    KeyDataError,
    MeterBlocked,
    ReversalRefused,
    TransactionNotFound,
)
from vending_core.domain.model import Meter, MeterStatus
from vending_core.domain.records import (
    IssuedToken,
    MaintenanceRequest,
    MeterEvent,
    TokenKind,
    Vend,
    VendKind,
    VendorEntry,
    VendStatus,
)
from vending_core.domain.tids import allocate_tids
from vending_core.service.core import (
    Core,
    RequestContext,
    customer_of,
    find_meter,
    fingerprint,
    replay,
    store_vend,
)
from vending_core.service.ports import UnitOfWork
from vending_core.service.results import VendResult

__all__ = [
    "EngineeringKind",
    "block_meter",
    "change_key",
    "issue_engineering_token",
    "record_maintenance_request",
    "reverse",
    "unblock_meter",
]


_EA11 = 11  # MISTY1 meters: key change sets always carry the SGC


class EngineeringKind(enum.StrEnum):
    """Engineering (management) tokens a technician or the back office may issue."""

    CLEAR_CREDIT = "clear_credit"
    CLEAR_TAMPER = "clear_tamper"
    SET_POWER_LIMIT = "set_power_limit"
    SET_PHASE_UNBALANCE_LIMIT = "set_phase_unbalance_limit"


def _meter_id(meter: Meter) -> int:
    if meter.id is None:  # pragma: no cover - loaded meters have ids
        raise ValueError("meter has no id")
    return meter.id


async def _finish(uow: UnitOfWork, ctx: RequestContext, meter: Meter, vend: Vend) -> VendResult:
    customer = await customer_of(uow, meter)
    return await store_vend(uow, ctx, customer.name if customer else "", vend)


def _engineering_token(kind: EngineeringKind, value: int | None, tid: int, rnd: int) -> sts.Token:
    match kind:
        case EngineeringKind.CLEAR_CREDIT:
            return sts.ClearCredit(tid=tid, rnd=rnd, register=0xFFFF if value is None else value)
        case EngineeringKind.CLEAR_TAMPER:
            return sts.ClearTamperCondition(tid=tid, rnd=rnd)
        case EngineeringKind.SET_POWER_LIMIT:
            return sts.SetMaximumPowerLimit.of(_required(value, kind), tid=tid, rnd=rnd)
        case EngineeringKind.SET_PHASE_UNBALANCE_LIMIT:
            watts = _required(value, kind)
            return sts.SetMaximumPhasePowerUnbalanceLimit.of(watts, tid=tid, rnd=rnd)


def _required(value: int | None, kind: EngineeringKind) -> int:
    if value is None or value < 0:
        raise KeyDataError(f"{kind.value} needs a limit in watts")
    return value


async def issue_engineering_token(
    core: Core,
    ctx: RequestContext,
    meter_number: str,
    kind: EngineeringKind,
    *,
    value: int | None = None,
) -> VendResult:
    """Issue one engineering token (clear credit/tamper, power limits); no money moves."""
    fp = fingerprint("engineering", meter=meter_number, kind=kind.value, value=value)
    async with core.uow() as uow:
        if not await uow.requests.claim(ctx.client_id, ctx.request_id, fp):
            return await replay(uow, ctx, fp)
        meter = await find_meter(uow, meter_number, lock=True)
        now = core.now()
        key = await core.decoder_key(meter)
        (tid,) = allocate_tids(meter, now, 1)
        try:
            value_token = _engineering_token(kind, value, tid, core.random_nibble())
        except sts.StsError as exc:
            raise KeyDataError(f"cannot issue {kind.value}: {exc}") from exc
        token = IssuedToken(
            sequence=1,
            kind=TokenKind(kind.value),
            token=sts.encode(value_token, key),
            tid=tid,
            description=kind.value.replace("_", " ") + ("" if value is None else f" {value}"),
        )
        await uow.meters.update(meter)
        vend = _vend(ctx, meter, VendKind.ENGINEERING, now, (token,))
        return await _finish(uow, ctx, meter, vend)


def _vend(
    ctx: RequestContext,
    meter: Meter,
    kind: VendKind,
    now: datetime,
    tokens: tuple[IssuedToken, ...],
) -> Vend:
    return Vend(
        client_id=ctx.client_id,
        request_id=ctx.request_id,
        kind=kind,
        meter_id=_meter_id(meter),
        meter_number=meter.number,
        channel=ctx.channel,
        vendor_code=ctx.vendor_code,
        operator=ctx.operator,
        created_at=now,
        tokens=tokens,
    )


async def change_key(
    core: Core,
    ctx: RequestContext,
    meter_number: str,
    *,
    sgc: str | None = None,
    ti: int | None = None,
    base_date: int | None = None,
) -> VendResult:
    """Move a meter to new key data; returns the key change token set to enter first.

    The new key revision is the target supply group's current one. A base-date change
    sets the rollover bit (the meter clears its TID memory) and restarts the meter's TIDs.
    EA07 meters get a 2-token set, or 3 tokens when the SGC changes; EA11 meters 4.
    """
    fp = fingerprint("change_key", meter=meter_number, sgc=sgc, ti=ti, base_date=base_date)
    async with core.uow() as uow:
        if not await uow.requests.claim(ctx.client_id, ctx.request_id, fp):
            return await replay(uow, ctx, fp)
        meter = await find_meter(uow, meter_number, lock=True)
        new_sgc = sgc or meter.sgc
        group = await uow.supply_groups.get(new_sgc)
        if group is None:
            raise KeyDataError(f"supply group {new_sgc} is not configured")
        new_ti = meter.ti if ti is None else ti
        new_base = meter.base_date if base_date is None else base_date
        old_key = await core.decoder_key(meter)
        new_key = await core.decoder_key(
            meter,
            sgc=new_sgc,
            krn=group.key_revision,
            ti=new_ti,
            base_date=new_base,
            dkga=group.dkga,  # the target group's algorithm, which may differ from the old one
        )
        rollover = new_base != meter.base_date
        try:
            change = sts.KeyChange(
                new_key=new_key.key,
                krn=group.key_revision,
                kt=meter.kt,
                ti=new_ti,
                ken=meter.ken,
                ro=rollover,
                sgc=new_sgc if (new_sgc != meter.sgc or meter.ea == _EA11) else None,
            )
        except sts.StsError as exc:
            raise KeyDataError(f"cannot build the key change: {exc}") from exc
        tokens = tuple(
            IssuedToken(
                sequence=n,
                kind=TokenKind.KEY_CHANGE,
                token=sts.encode(section, old_key),
                description=f"key change {n} of {change.set_size}",
            )
            for n, section in enumerate(change.sections(), start=1)
        )
        now = core.now()
        detail = (
            f"SGC {meter.sgc}->{new_sgc}, KRN {meter.krn}->{group.key_revision}, "
            f"TI {meter.ti}->{new_ti}, base date {meter.base_date}->{new_base}"
        )
        meter.sgc, meter.krn, meter.ti, meter.base_date = (
            new_sgc,
            group.key_revision,
            new_ti,
            new_base,
        )
        meter.dkga = group.dkga
        if rollover:
            meter.last_tid = None
        await uow.meters.update(meter)
        await uow.meters.add_event(
            MeterEvent(
                meter_id=_meter_id(meter),
                at=now,
                kind="key_changed",
                detail=detail,
                actor=ctx.operator,
            )
        )
        return await _finish(uow, ctx, meter, _vend(ctx, meter, VendKind.KEY_CHANGE, now, tokens))


async def reverse(
    core: Core, ctx: RequestContext, vend_id: int, *, reason: str, authorised_by: str
) -> VendResult:
    """Reverse a credit sale: balancing entries for the vendor float, debts and counters.

    Meter credit cannot be taken back: a token already entered stays loaded, and its TID
    stays used. The reversal is recorded with who authorised it and why.
    """
    if not reason.strip():
        raise ReversalRefused("a reversal needs a reason")
    fp = fingerprint("reverse", vend=vend_id, reason=reason, by=authorised_by)
    async with core.uow() as uow:
        if not await uow.requests.claim(ctx.client_id, ctx.request_id, fp):
            return await replay(uow, ctx, fp)
        vend = await uow.vends.get(vend_id)
        if vend is None:
            raise TransactionNotFound(f"no vend {vend_id}")
        if vend.kind is not VendKind.CREDIT or vend.status is not VendStatus.COMPLETED:
            raise ReversalRefused(
                f"vend {vend_id} is a {vend.kind.value} in state {vend.status.value}"
            )
        meter = await uow.meters.get(vend.meter_id, lock=True)
        if meter is None:  # pragma: no cover - foreign key
            raise TransactionNotFound(f"vend {vend_id} has no meter")
        now = core.now()
        await _undo_sale(uow, vend, meter, now)
        vend.status, vend.reversed_at = VendStatus.REVERSED, now
        vend.reversal_reason, vend.reversed_by = reason, authorised_by
        await uow.vends.update(vend)
        customer = await customer_of(uow, meter)
        result = VendResult.of_vend(vend, customer_name=customer.name if customer else "")
        await uow.requests.complete(ctx.client_id, ctx.request_id, result.to_json(), vend.id)
        await uow.commit()
        return result


async def _undo_sale(uow: UnitOfWork, vend: Vend, meter: Meter, now: datetime) -> None:
    breakdown = vend.breakdown or {}
    if vend.vendor_code is not None:
        vendor = await uow.vendors.get_by_code(vend.vendor_code)
        if vendor is not None and vendor.id is not None:
            refund = VendorEntry(
                vendor_id=vendor.id,
                at=now,
                amount=vend.gross - vend.commission,
                balance_after=0,  # set by the movement
                kind="reversal",
                vend_id=vend.id,
            )
            await uow.vendors.move(refund)
    recovered = {line["debt_id"]: line["amount"] for line in breakdown.get("debt_lines", [])}
    for debt in await uow.debts.for_meter(_meter_id(meter)):
        if debt.id in recovered:
            debt.outstanding += recovered[debt.id]
            await uow.debts.update(debt)
    meter.charges_owing += int(breakdown.get("fixed_net", 0)) + int(breakdown.get("fixed_vat", 0))
    if breakdown.get("month") == meter.month:
        loaded = sum(t.tenths or 0 for t in vend.tokens if t.kind is TokenKind.CREDIT)
        meter.month_tenths = max(0, meter.month_tenths - loaded)
    await uow.meters.update(meter)


async def block_meter(core: Core, meter_number: str, *, reason: str, actor: str) -> None:
    """Stop sales to a meter (reason and actor are recorded)."""
    await _set_status(core, meter_number, MeterStatus.BLOCKED, reason=reason, actor=actor)


async def unblock_meter(core: Core, meter_number: str, *, reason: str, actor: str) -> None:
    """Allow sales to a blocked meter again (reason and actor are recorded)."""
    await _set_status(core, meter_number, MeterStatus.ACTIVE, reason=reason, actor=actor)


async def _set_status(
    core: Core, meter_number: str, status: MeterStatus, *, reason: str, actor: str
) -> None:
    async with core.uow() as uow:
        meter = await find_meter(uow, meter_number, lock=True)
        if meter.status is MeterStatus.REPLACED:
            raise MeterBlocked(f"meter {meter.number} was replaced: it stays out of service")
        meter.status = status
        meter.blocked_reason = reason if status is MeterStatus.BLOCKED else None
        await uow.meters.update(meter)
        kind = "blocked" if status is MeterStatus.BLOCKED else "unblocked"
        await uow.meters.add_event(
            MeterEvent(
                meter_id=_meter_id(meter), at=core.now(), kind=kind, detail=reason, actor=actor
            )
        )
        await uow.commit()


async def record_maintenance_request(
    core: Core, meter_number: str, description: str, *, reported_by: str | None = None
) -> int:
    """Open a maintenance request for a meter; returns its id."""
    async with core.uow() as uow:
        meter = await find_meter(uow, meter_number)
        request_id = await uow.maintenance.add(
            MaintenanceRequest(
                meter_id=_meter_id(meter),
                description=description,
                reported_by=reported_by,
                opened_at=core.now(),
            )
        )
        await uow.commit()
        return request_id
