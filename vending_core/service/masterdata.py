"""Master data of the back office: tariffs, supply groups and their vending keys, vendors.

Meters and debts are in :mod:`vending_core.service.masterdata_meters`. Refusals are
:class:`MasterDataError` subclasses with a stable ``code``: :class:`NotFoundError` (the thing
named in the request does not exist), :class:`AlreadyExistsError` (a unique key is taken),
:class:`InvalidDataError` (the values break a rule; the message says which) and
:class:`StateConflictError` (the thing is in a state that forbids the change).

* A tariff is never edited in place: a change stores a new version (vends record the version
  they used). Its taxes (VAT), charges and Free Basic Electricity policy are fields of the
  version.
* A vending key is write-only: it goes to the key store (encrypted at rest) and is never
  returned. The key of a revision, once stored, is not replaced (tokens already issued with it
  must stay valid): a new key is a new key revision.
* A vendor's float moves only through its ledger (:meth:`VendorRepository.move`): a top-up is
  idempotent on its reference, kept as an idempotency key (client ``top-up:<vendor code>``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

import sts
from sts.identifiers import check_krn, check_sgc
from sts.tid import BASE_DATES
from vending_core.domain.model import SupplyGroup, Tariff, Vendor
from vending_core.domain.records import VendorEntry
from vending_core.service.core import Core, fingerprint, key_ref_for
from vending_core.service.ports import UnitOfWork

__all__ = [
    "VENDING_KEY_BYTES",
    "AlreadyExistsError",
    "InvalidDataError",
    "MasterDataError",
    "NotFoundError",
    "StateConflictError",
    "TopUp",
    "VendorChange",
    "add_tariff_version",
    "added",
    "check_tariff",
    "create_supply_group",
    "create_tariff",
    "create_vendor",
    "store_vending_key",
    "top_up",
    "update_vendor",
]

_T = TypeVar("_T")

#: The length of a supply group's vending key per key derivation algorithm (DKGA).
VENDING_KEY_BYTES = {2: 8, 4: 20}


class MasterDataError(Exception):
    """A refused master-data change; ``code`` is stable, ``message`` safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFoundError(MasterDataError):
    """The tariff, supply group, vendor, meter or debt named in the request does not exist."""


class AlreadyExistsError(MasterDataError):
    """A unique key (tariff code, SGC, meter number, vendor code, key revision) is taken."""


async def added(add: Awaitable[_T], code: str, message: str) -> _T:
    """``await add``; a store refusing it as a duplicate becomes :class:`AlreadyExistsError`.

    The callers check for the key first, but two concurrent creates can both pass that check:
    the unique index then refuses the second (the SQL adapters raise ``ConstraintViolation``,
    a ``ValueError``, as the memory twins do), which is answered like the check's refusal
    instead of as a server error.
    """
    try:
        return await add
    except ValueError as exc:
        raise AlreadyExistsError(code, message) from exc


class InvalidDataError(MasterDataError):
    """The values break a rule (the message says which)."""


class StateConflictError(MasterDataError):
    """The thing's state forbids the change (a replaced meter, say)."""


# --------------------------------------------------------------------------- tariffs


def _tariff_problems(tariff: Tariff) -> list[str]:
    found = []
    blocks = tariff.blocks
    if not blocks or blocks[-1].up_to_tenths is not None:
        found.append("the last block must have no upper bound")
    bounds = [b.up_to_tenths for b in blocks[:-1]]
    rising = [b for b in bounds if b is not None]
    if len(rising) < len(bounds) or rising != sorted(set(rising)) or min(rising, default=1) <= 0:
        found.append("block bounds must rise strictly above 0 (only the last is open)")
    if any(b.rate < 0 for b in blocks) or (blocks and blocks[-1].rate <= 0):
        found.append("rates must be >= 0 and the last block's rate > 0")
    if not 0 <= tariff.vat_rate <= 1:
        found.append("the VAT rate must be between 0 and 1")
    if tariff.max_purchase is not None and tariff.min_purchase > tariff.max_purchase:
        found.append("min_purchase must not exceed max_purchase")
    charge = tariff.fixed_charge.amount if tariff.fixed_charge else 0
    if min(tariff.service_charge, tariff.min_purchase, tariff.fbe_monthly_tenths, charge) < 0:
        found.append("charges, purchase limits and FBE must not be negative")
    return found


def check_tariff(tariff: Tariff) -> None:
    """Refuse a tariff the pricing cannot use (InvalidDataError listing every rule broken)."""
    found = _tariff_problems(tariff)
    if found:
        raise InvalidDataError("tariff-invalid", f"tariff {tariff.code}: " + "; ".join(found))


async def create_tariff(core: Core, draft: Tariff) -> Tariff:
    """Store a new tariff code as version 1 (AlreadyExistsError if the code exists)."""
    tariff = replace(draft, version=1)
    check_tariff(tariff)
    async with core.uow() as uow:
        if await uow.tariffs.current(tariff.code) is not None:
            raise AlreadyExistsError("tariff-exists", f"tariff {tariff.code} exists")
        await added(uow.tariffs.add(tariff), "tariff-exists", f"tariff {tariff.code} exists")
        await uow.commit()
    return tariff


async def add_tariff_version(core: Core, draft: Tariff) -> tuple[Tariff, Tariff]:
    """Store the next version of an existing tariff; (the version before, the new one).

    Older versions stay as they were. The utility of a tariff never changes.
    """
    async with core.uow() as uow:
        current = await uow.tariffs.current(draft.code)
        if current is None:
            raise NotFoundError("tariff-unknown", f"no tariff {draft.code}")
        if draft.utility is not current.utility:
            raise InvalidDataError("tariff-invalid", "a tariff's utility cannot change")
        tariff = replace(draft, version=current.version + 1)
        check_tariff(tariff)
        taken = f"version {tariff.version} of tariff {tariff.code} was stored meanwhile; retry"
        await added(uow.tariffs.add(tariff), "tariff-version-taken", taken)
        await uow.commit()
    return current, tariff


# --------------------------------------------------------------------------- supply groups


def _check_group(group: SupplyGroup) -> None:
    try:
        check_sgc(group.sgc)
        check_krn(group.key_revision)
    except sts.StsError as exc:
        raise InvalidDataError("supply-group-invalid", str(exc)) from exc
    if group.dkga not in VENDING_KEY_BYTES:
        raise InvalidDataError("supply-group-invalid", "the DKGA must be 2 or 4")
    if group.base_date not in BASE_DATES:
        raise InvalidDataError("supply-group-invalid", f"the base date must be in {BASE_DATES}")


async def create_supply_group(core: Core, draft: SupplyGroup) -> SupplyGroup:
    """Store a new supply group; its key reference is that of its current key revision."""
    group = replace(draft, key_ref=key_ref_for(draft.sgc, draft.key_revision))
    _check_group(group)
    async with core.uow() as uow:
        if await uow.supply_groups.get(group.sgc) is not None:
            raise AlreadyExistsError("supply-group-exists", f"supply group {group.sgc} exists")
        taken = f"supply group {group.sgc} exists"
        await added(uow.supply_groups.add(group), "supply-group-exists", taken)
        await uow.commit()
    return group


async def supply_group(uow: UnitOfWork, sgc: str) -> SupplyGroup:
    """The supply group (NotFoundError if there is none)."""
    group = await uow.supply_groups.get(sgc)
    if group is None:
        raise NotFoundError("supply-group-unknown", f"no supply group {sgc}")
    return group


async def store_vending_key(core: Core, sgc: str, krn: int, key: bytes) -> None:
    """Store the vending key of revision ``krn`` of a supply group, encrypted, write-only.

    The key must have the group's DKGA's length; a revision's key is never replaced
    (AlreadyExistsError). Messages never contain the key.
    """
    try:
        check_krn(krn)
    except sts.StsError as exc:
        raise InvalidDataError("vending-key-invalid", str(exc)) from exc
    async with core.read_uow() as uow:
        group = await supply_group(uow, sgc)
    size = VENDING_KEY_BYTES[group.dkga]
    if len(key) != size:
        detail = f"DKGA0{group.dkga} needs a {size}-byte vending key, got {len(key)} bytes"
        raise InvalidDataError("vending-key-invalid", detail)
    ref = key_ref_for(sgc, krn)
    try:
        await core.keys.vending_key(ref)
    except KeyError:
        await core.keys.store(ref, key)
        return
    raise AlreadyExistsError(
        "vending-key-exists", f"supply group {sgc} has a key of revision {krn}; use a new KRN"
    )


# --------------------------------------------------------------------------- vendors


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorChange:
    """What an update changes (None: keep)."""

    name: str | None = None
    credit_limit: int | None = None
    commission: Decimal | None = None
    allowed_sgcs: tuple[str, ...] | None = None


async def _check_vendor(uow: UnitOfWork, vendor: Vendor) -> None:
    if vendor.credit_limit < 0:
        raise InvalidDataError("vendor-invalid", "the credit limit must not be negative")
    if not 0 <= vendor.commission < 1:
        raise InvalidDataError("vendor-invalid", "the commission must be a share in [0, 1)")
    for sgc in vendor.allowed_sgcs:
        if await uow.supply_groups.get(sgc) is None:
            raise InvalidDataError("vendor-invalid", f"no supply group {sgc}")


async def create_vendor(core: Core, draft: Vendor) -> Vendor:
    """Store a new vendor with an empty float (it is filled by top-ups)."""
    vendor = replace(draft, id=None, balance=0)
    async with core.uow() as uow:
        await _check_vendor(uow, vendor)
        if await uow.vendors.get_by_code(vendor.code) is not None:
            raise AlreadyExistsError("vendor-exists", f"vendor {vendor.code} exists")
        taken = f"vendor {vendor.code} exists"
        vendor.id = await added(uow.vendors.add(vendor), "vendor-exists", taken)
        await uow.commit()
    return vendor


async def vendor_by_code(uow: UnitOfWork, code: str, *, lock: bool = False) -> Vendor:
    """The vendor (NotFoundError if there is none)."""
    vendor = await uow.vendors.get_by_code(code, lock=lock)
    if vendor is None or vendor.id is None:
        raise NotFoundError("vendor-unknown", f"no vendor {code}")
    return vendor


async def update_vendor(core: Core, code: str, change: VendorChange) -> tuple[Vendor, Vendor]:
    """Change name, credit limit, commission or supply groups; (before, after).

    The vendor's row is locked first, so a concurrent sale's float movement is not lost.
    """
    async with core.uow() as uow:
        before = await vendor_by_code(uow, code, lock=True)
        given = {k: v for k, v in asdict(change).items() if v is not None}
        after = replace(before, **given)
        await _check_vendor(uow, after)
        await uow.vendors.update(after)
        await uow.commit()
    return before, after


@dataclass(frozen=True, slots=True, kw_only=True)
class TopUp:
    """A float top-up as recorded (``replayed``: the reference was seen before)."""

    vendor_code: str
    amount: int
    reference: str
    balance_before: int
    balance_after: int
    at: str  #: ISO 8601 UTC
    replayed: bool = False

    def to_json(self) -> str:
        """The stored form (without ``replayed``)."""
        data: dict[str, Any] = asdict(self)
        del data["replayed"]
        return json.dumps(data, sort_keys=True)


async def top_up(core: Core, code: str, amount: int, reference: str) -> TopUp:
    """Add ``amount`` to the vendor's float with one ledger entry, once per reference.

    The same reference again returns the first top-up (``replayed``) and moves nothing; with
    another amount it is refused (AlreadyExistsError). The movement is the atomic
    :meth:`VendorRepository.move`, the last statement before the commit but one.
    """
    if amount <= 0:
        raise InvalidDataError("top-up-invalid", "a top-up must be positive")
    client, fp = f"top-up:{code}", fingerprint("top_up", vendor=code, amount=amount)
    async with core.uow() as uow:
        vendor = await vendor_by_code(uow, code)
        if not await uow.requests.claim(client, reference, fp):
            stored = await uow.requests.get(client, reference)
            if stored is None or stored.response is None or stored.fingerprint != fp:
                raise AlreadyExistsError(
                    "top-up-reference-used", f"reference {reference} was used for another top-up"
                )
            return replace(TopUp(**json.loads(stored.response)), replayed=True)
        now = core.now()
        entry = VendorEntry(
            vendor_id=vendor.id or 0, at=now, amount=amount, balance_after=0, kind="top_up"
        )
        after = await uow.vendors.move(entry)
        if after is None:  # pragma: no cover - an unconditional movement always happens
            raise StateConflictError("top-up-refused", "the float did not move")
        done = TopUp(
            vendor_code=code,
            amount=amount,
            reference=reference,
            balance_before=after - amount,
            balance_after=after,
            at=now.isoformat(),
        )
        await uow.requests.complete(client, reference, done.to_json(), None)
        await uow.commit()
    return done
