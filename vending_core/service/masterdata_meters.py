"""Master data of meters and their debts: install, assign, change tariff, replace; debts.

* **Install** checks the number (length and Luhn check digit, as ``sts.Pan``), that it is
  free, that the supply group, tariff (of the meter's utility) and customer exist, and that
  the STS key data can make a decoder key (a trial derivation with a zero key: SGC, TI, KRN,
  KT, KEN, base date, EA and DKGA must fit together, and the DKGA must be the group's).
* **Replace** takes an active or blocked meter out of service (status ``replaced``, never
  sold to again, the reason kept as ``blocked_reason``) and installs the new meter with the
  old one's customer, tariff, FBE registration, monthly counters (block tariffs and FBE count
  per customer-month) and outstanding debts. The TIDs start afresh: they are per meter.
* Every change locks the meter row first, as a vend does, so neither overwrites the other.

Refusals are the :class:`~vending_core.service.masterdata.MasterDataError` family; an
invalid or unknown meter number is the core's ``InvalidMeterNumber`` / ``MeterUnknown``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from decimal import Decimal

import sts
from sts.identifiers import check_ken
from vending_core.domain.errors import InvalidMeterNumber
from vending_core.domain.model import Debt, DebtMode, Meter, MeterStatus
from vending_core.domain.records import MeterEvent
from vending_core.service.core import Core, find_meter
from vending_core.service.masterdata import (
    VENDING_KEY_BYTES,
    AlreadyExistsError,
    InvalidDataError,
    NotFoundError,
    StateConflictError,
    added,
    supply_group,
)
from vending_core.service.ports import UnitOfWork

__all__ = [
    "DebtChange",
    "MeterChange",
    "NewMeter",
    "add_debt",
    "change_meter",
    "install_meter",
    "replace_meter",
    "update_debt",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMeter:
    """A physical meter to install: its number and STS key data (DKGA None: the group's)."""

    number: str
    sgc: str
    ti: int
    krn: int
    ea: int = 7
    dkga: int | None = None
    kt: sts.KeyType = sts.KeyType.DUTK
    ken: int = 255
    base_date: int = 2014
    utility: sts.Utility = sts.Utility.ELECTRICITY


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterChange:
    """An assignment (``assign``: set ``customer_id``, None unassigns) and/or a new tariff."""

    assign: bool = False
    customer_id: int | None = None
    tariff_code: str | None = None


def _meter_id(meter: Meter) -> int:
    if meter.id is None:  # pragma: no cover - loaded meters have ids
        raise ValueError("meter has no id")
    return meter.id


def _number_and_pan(number: str) -> tuple[str, str]:
    """The number without spaces and dashes, and its 18-digit PAN (Luhn checked)."""
    text = number.replace(" ", "").replace("-", "")
    try:
        return text, sts.Pan.parse(text).digits
    except sts.StsError as exc:
        raise InvalidMeterNumber(f"{number!r} is not a valid meter number: {exc}") from exc


def _check_key_data(meter: Meter) -> None:
    """A trial derivation with a zero vending key: every STS rule on the key data at once."""
    try:
        check_ken(meter.ken)
        zero = bytes(VENDING_KEY_BYTES.get(meter.dkga, 20))
        raw = sts.derive(
            meter.dkga,
            zero,
            sts.Pan.parse(meter.pan),
            sgc=meter.sgc,
            ti=meter.ti,
            krn=meter.krn,
            kt=int(meter.kt),
            base_date=meter.base_date,
            ea=meter.ea,
        )
        sts.DecoderKey(raw, ea=meter.ea)
    except sts.StsError as exc:
        raise InvalidDataError("meter-key-data-invalid", str(exc)) from exc


async def _check_tariff_code(uow: UnitOfWork, code: str, utility: sts.Utility) -> None:
    tariff = await uow.tariffs.current(code)
    if tariff is None:
        raise InvalidDataError("meter-invalid", f"no tariff {code}")
    if tariff.utility is not utility:
        raise InvalidDataError("meter-invalid", f"tariff {code} is not for {utility.name}")


async def _check_customer(uow: UnitOfWork, customer_id: int | None) -> None:
    if customer_id is not None and await uow.customers.get(customer_id) is None:
        raise InvalidDataError("meter-invalid", f"no customer {customer_id}")


async def _new_meter(
    uow: UnitOfWork, new: NewMeter, *, tariff_code: str, customer_id: int | None, core: Core
) -> Meter:
    """The checked, unsaved meter (number free, references exist, key data usable)."""
    number, pan = _number_and_pan(new.number)
    for taken in (number, pan):
        if await uow.meters.get_by_number(taken) is not None:
            raise AlreadyExistsError("meter-exists", f"meter {new.number} is registered")
    group = await supply_group(uow, new.sgc)
    dkga = group.dkga if new.dkga is None else new.dkga
    if dkga != group.dkga:
        raise InvalidDataError("meter-key-data-invalid", f"supply group {new.sgc} is DKGA0{dkga}")
    fields = {k: v for k, v in asdict(new).items() if k not in {"number", "dkga"}}
    meter = Meter(
        **fields,
        number=number,
        pan=pan,
        dkga=dkga,
        tariff_code=tariff_code,
        customer_id=customer_id,
        installed_at=core.now(),
    )
    _check_key_data(meter)
    await _check_tariff_code(uow, tariff_code, meter.utility)
    await _check_customer(uow, customer_id)
    return meter


async def _event(uow: UnitOfWork, core: Core, meter: Meter, what: tuple[str, str, str]) -> None:
    """Record (kind, detail, actor) on the meter's history."""
    kind, detail, actor = what
    at = core.now()
    event = MeterEvent(meter_id=_meter_id(meter), at=at, kind=kind, detail=detail, actor=actor)
    await uow.meters.add_event(event)


async def install_meter(
    core: Core,
    new: NewMeter,
    *,
    tariff_code: str,
    customer_id: int | None = None,
    fbe_registered: bool = False,
    actor: str,
) -> Meter:
    """Register a new meter (active); an ``installed`` event records who did it."""
    async with core.uow() as uow:
        meter = await _new_meter(
            uow, new, tariff_code=tariff_code, customer_id=customer_id, core=core
        )
        meter.fbe_registered = fbe_registered
        taken = f"meter {meter.number} is registered"
        meter.id = await added(uow.meters.add(meter), "meter-exists", taken)
        await _event(uow, core, meter, ("installed", f"tariff {tariff_code}", actor))
        await uow.commit()
    return meter


async def _in_service(uow: UnitOfWork, number: str) -> Meter:
    meter = await find_meter(uow, number, lock=True)
    if meter.status is MeterStatus.REPLACED:
        raise StateConflictError("meter-replaced", f"meter {meter.number} was replaced")
    return meter


async def change_meter(
    core: Core, number: str, change: MeterChange, *, actor: str
) -> tuple[Meter, Meter]:
    """Assign the meter to a customer (or none) and/or move it to another tariff code."""
    async with core.uow() as uow:
        meter = await _in_service(uow, number)
        before = copy.deepcopy(meter)
        if change.assign:
            await _check_customer(uow, change.customer_id)
            meter.customer_id = change.customer_id
            await _event(uow, core, meter, ("assigned", f"customer {change.customer_id}", actor))
        if change.tariff_code is not None:
            await _check_tariff_code(uow, change.tariff_code, meter.utility)
            meter.tariff_code = change.tariff_code
            await _event(uow, core, meter, ("tariff_changed", change.tariff_code, actor))
        await uow.meters.update(meter)
        await uow.commit()
    return before, meter


async def replace_meter(
    core: Core, number: str, new: NewMeter, *, reason: str, actor: str
) -> tuple[Meter, Meter, Meter]:
    """Replace a meter by a new one; (the old before, the old after, the new meter)."""
    async with core.uow() as uow:
        old = await _in_service(uow, number)
        before = copy.deepcopy(old)
        meter = await _new_meter(
            uow, new, tariff_code=old.tariff_code, customer_id=old.customer_id, core=core
        )
        meter.fbe_registered, meter.last_fbe_month = old.fbe_registered, old.last_fbe_month
        meter.month, meter.month_tenths = old.month, old.month_tenths
        meter.charged_up_to, meter.charges_owing = old.charged_up_to, old.charges_owing
        taken = f"meter {meter.number} is registered"
        meter.id = await added(uow.meters.add(meter), "meter-exists", taken)
        for debt in await uow.debts.for_meter(_meter_id(old)):
            await uow.debts.update(replace(debt, meter_id=meter.id))
        old.status, old.customer_id = MeterStatus.REPLACED, None
        old.blocked_reason = f"replaced by {meter.number}: {reason}"
        await uow.meters.update(old)
        await _event(uow, core, old, ("replaced", old.blocked_reason, actor))
        await _event(uow, core, meter, ("installed", f"replaces {old.number}: {reason}", actor))
        await uow.commit()
    return before, old, meter


# --------------------------------------------------------------------------- debts


@dataclass(frozen=True, slots=True, kw_only=True)
class DebtChange:
    """What a debt update changes (None: keep). ``outstanding=0`` writes the debt off."""

    description: str | None = None
    outstanding: int | None = None
    mode: DebtMode | None = None
    value: Decimal | None = None
    taxed: bool | None = None


def _check_debt(debt: Debt) -> None:
    if debt.outstanding < 0:
        raise InvalidDataError("debt-invalid", "the outstanding amount must not be negative")
    if debt.mode is DebtMode.PERCENT and not 0 < debt.value <= 1:
        raise InvalidDataError("debt-invalid", "a percent debt recovers a share in (0, 1]")
    if debt.mode is DebtMode.FIXED and (debt.value <= 0 or debt.value != int(debt.value)):
        raise InvalidDataError("debt-invalid", "a fixed debt recovers whole minor units > 0")


async def add_debt(core: Core, number: str, draft: Debt) -> Debt:
    """Add a debt to a meter (recovered from its next purchases)."""
    async with core.uow() as uow:
        meter = await _in_service(uow, number)
        debt = replace(draft, id=None, meter_id=meter.id, created_at=core.now())
        _check_debt(debt)
        debt.id = await uow.debts.add(debt)
        await uow.commit()
    return debt


async def update_debt(core: Core, debt_id: int, change: DebtChange) -> tuple[Debt, Debt]:
    """Change a debt (e.g. write it off); (before, after).

    The debt's meter is locked first, as a vend locks it before recovering debts, and the
    debt is read again under the lock, so a concurrent recovery is never overwritten.
    """
    async with core.uow() as uow:
        found = await uow.admin.get_debt(debt_id)
        if found is not None and found.meter_id is not None:
            await uow.meters.get(found.meter_id, lock=True)
            found = await uow.admin.get_debt(debt_id)
        if found is None:
            raise NotFoundError("debt-unknown", f"no debt {debt_id}")
        given = {k: v for k, v in asdict(change).items() if v is not None}
        after = replace(found, **given)
        _check_debt(after)
        await uow.debts.update(after)
        await uow.commit()
    return found, after
