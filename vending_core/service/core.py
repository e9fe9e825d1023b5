"""The dependencies every use case takes, and the shared steps of issuing tokens.

:class:`Core` bundles the ports a use case needs (unit-of-work factory, key store,
clock, random source, the utility's time zone). It is built once by the composition
root and passed to every use-case function.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import sts
from vending_core.domain.errors import (
    IdempotencyConflict,
    InvalidMeterNumber,
    KeyDataError,
    MeterBlocked,
    MeterUnknown,
    VendingError,
)
from vending_core.domain.model import Customer, Meter, MeterStatus, SupplyGroup
from vending_core.domain.records import Vend
from vending_core.service.ports import KeyStore, MeterDetail, UnitOfWork, UnitOfWorkFactory
from vending_core.service.results import VendResult

__all__ = ["Core", "RequestContext", "key_ref_for"]


def key_ref_for(sgc: str, krn: int) -> str:
    """The key-store reference of a supply group's vending key of revision ``krn``."""
    return f"{sgc}:{krn}"


def _system_clock() -> datetime:
    return datetime.now(UTC)


def _random_nibble() -> int:
    return secrets.randbelow(16)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestContext:
    """Who asks: the idempotency key (client id + request id), channel, vendor, operator."""

    client_id: str
    request_id: str
    channel: str
    vendor_code: str | None = None
    operator: str | None = None


_KeyData = tuple[str, str, int, int, int, int, int, int]
_DECODER_KEY_CACHE = 4096  # derived keys kept in memory (about 1 MB)


@dataclass(slots=True, kw_only=True)
class Core:
    """What every use case needs from the outside world."""

    uow: UnitOfWorkFactory
    keys: KeyStore
    #: Units of work that only read (confirm customer, quote, reprint, balance, profiles,
    #: payment status). On SQLite they skip the writers' group commit and read committed data
    #: inline (vending_core.adapters.reader); None: the same as ``uow``.
    reader: UnitOfWorkFactory | None = None
    clock: Callable[[], datetime] = _system_clock
    random_nibble: Callable[[], int] = _random_nibble
    tz: tzinfo = UTC
    _decoder_keys: OrderedDict[_KeyData, sts.DecoderKey] = field(default_factory=OrderedDict)

    def read_uow(self) -> UnitOfWork:
        """A unit of work that only reads (never write or commit in it)."""
        return (self.reader or self.uow)()

    def now(self) -> datetime:
        """The current time, timezone-aware UTC (a naive clock is a programming error)."""
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    async def decoder_key(
        self,
        meter: Meter,
        *,
        sgc: str | None = None,
        krn: int | None = None,
        ti: int | None = None,
        base_date: int | None = None,
        dkga: int | None = None,
    ) -> sts.DecoderKey:
        """The meter's decoder key (or the key it would have with other key data).

        Derived from the supply group's vending key and kept in a small cache, so a vend
        does not run the derivation and the cipher's key schedule every time.
        """
        data: _KeyData = (
            meter.pan,
            sgc or meter.sgc,
            meter.ti if ti is None else ti,
            meter.krn if krn is None else krn,
            int(meter.kt),
            meter.base_date if base_date is None else base_date,
            meter.ea,
            meter.dkga if dkga is None else dkga,
        )
        cached = self._decoder_keys.get(data)
        if cached is not None:
            self._decoder_keys.move_to_end(data)
            return cached
        key = await self._derive(data)
        self._decoder_keys[data] = key
        if len(self._decoder_keys) > _DECODER_KEY_CACHE:
            self._decoder_keys.popitem(last=False)
        return key

    async def _derive(self, data: _KeyData) -> sts.DecoderKey:
        pan, sgc, ti, krn, kt, base_date, ea, dkga = data
        try:
            vending_key = await self.keys.vending_key(key_ref_for(sgc, krn))
        except KeyError as exc:
            raise KeyDataError(f"no vending key for SGC {sgc} revision {krn}") from exc
        try:
            raw = sts.derive(
                dkga,
                vending_key,
                sts.Pan.parse(pan),
                sgc=sgc,
                ti=ti,
                krn=krn,
                kt=kt,
                base_date=base_date,
                ea=ea,
            )
            return sts.DecoderKey(raw, ea=ea)
        except sts.StsError as exc:
            raise KeyDataError(f"meter {pan} has unusable key data: {exc}") from exc


def fingerprint(operation: str, **fields: object) -> str:
    """A stable hash of a request, to refuse a request id reused for another request."""
    text = json.dumps({"op": operation, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def replay(uow: UnitOfWork, ctx: RequestContext, fp: str) -> VendResult:
    """The stored result of an earlier request with the same idempotency key."""
    stored = await uow.requests.get(ctx.client_id, ctx.request_id)
    if stored is None or stored.response is None:  # pragma: no cover - claim said it exists
        raise VendingError("the earlier request with this id is still running; retry shortly")
    if stored.fingerprint != fp:
        raise IdempotencyConflict(
            f"request id {ctx.request_id} was already used for a different request"
        )
    return VendResult.from_json(stored.response)


def _parse_number(number: str) -> tuple[str, str]:
    """The number as typed without spaces and dashes, and its 18-digit PAN."""
    text = number.replace(" ", "").replace("-", "")
    try:
        return text, sts.Pan.parse(text).digits
    except sts.StsError as exc:
        raise InvalidMeterNumber(f"{number!r} is not a valid meter number: {exc}") from exc


async def find_meter(uow: UnitOfWork, number: str, *, lock: bool = False) -> Meter:
    """The meter by printed number or PAN; MeterUnknown / InvalidMeterNumber otherwise."""
    text, pan = _parse_number(number)
    meter = await uow.meters.get_by_number(text, lock=lock)
    if meter is None and text != pan:
        meter = await uow.meters.get_by_number(pan, lock=lock)
    if meter is None:
        raise MeterUnknown(f"no meter {number} is registered")
    return meter


async def find_meter_detail(uow: UnitOfWork, number: str, *, lock: bool = False) -> MeterDetail:
    """As :func:`find_meter`, with its customer, current tariff and debts (one read, mostly)."""
    text, pan = _parse_number(number)
    detail = await uow.meters.get_detail(text, lock=lock)
    if detail is None and text != pan:
        detail = await uow.meters.get_detail(pan, lock=lock)
    if detail is None:
        raise MeterUnknown(f"no meter {number} is registered")
    return detail


def ensure_active(meter: Meter) -> None:
    """Refuse to sell to a meter that is not active (blocked, or replaced by another)."""
    if meter.status is not MeterStatus.ACTIVE:
        raise MeterBlocked(
            f"meter {meter.number} is {meter.status.value}: {meter.blocked_reason or 'no reason'}"
        )


async def customer_of(uow: UnitOfWork, meter: Meter) -> Customer | None:
    """The meter's customer, if it has one."""
    return None if meter.customer_id is None else await uow.customers.get(meter.customer_id)


async def supply_group_of(uow: UnitOfWork, meter: Meter) -> SupplyGroup:
    """The meter's supply group (STS data error if it is missing)."""
    group = await uow.supply_groups.get(meter.sgc)
    if group is None:
        raise KeyDataError(f"meter {meter.number} has SGC {meter.sgc}, which is not configured")
    return group


async def record_vend(
    uow: UnitOfWork, ctx: RequestContext, customer_name: str, vend: Vend
) -> VendResult:
    """Add the vend and store its result under the request's key (not committed)."""
    vend.id = await uow.vends.add(vend)
    result = VendResult.of_vend(vend, customer_name=customer_name)
    await uow.requests.complete(ctx.client_id, ctx.request_id, result.to_json(), vend.id)
    return result


async def store_vend(
    uow: UnitOfWork, ctx: RequestContext, customer_name: str, vend: Vend
) -> VendResult:
    """:func:`record_vend`, then commit; return the result."""
    result = await record_vend(uow, ctx, customer_name, vend)
    await uow.commit()
    return result
