"""Use cases of scratch-card batches: issue a batch (PINs shown once), void a batch.

The rules of a batch are in :mod:`vending_core.domain.vouchers`; redemption is the voucher
payment provider's (``vending_core.adapters.payments_voucher``). :func:`issue_batch` draws
the PINs from ``secrets`` (a CSPRNG), hashes them with the deployment's salt outside the
transaction, then checks that the batch name is new and stores every card in one statement.
The clear PINs are returned to be printed and exist nowhere else: callers must not log,
audit or store them.

A second issue of a batch name is ``voucher-batch-exists`` (the check runs in the storing
transaction; a concurrent copy that passes it too is stopped by the unique serials and
stores nothing). :func:`void_batch` turns the batch's unredeemed cards ``void`` with one
conditional update, so a redemption racing it either redeemed first or finds the card void.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from vending_core.domain.payments import Voucher
from vending_core.domain.vouchers import (
    PIN_DIGITS,
    VoucherBatch,
    VoucherBatchExists,
    VoucherBatchUnknown,
    check_batch,
    pin_hash,
    serial_of,
)
from vending_core.service.ports import UnitOfWorkFactory

__all__ = ["issue_batch", "void_batch"]

RandBelow = Callable[[int], int]


def _new_pins(count: int, randbelow: RandBelow) -> list[str]:
    """``count`` distinct PINs of PIN_DIGITS digits (a repeat within the batch is redrawn)."""
    pins: dict[str, None] = {}
    while len(pins) < count:
        pins[f"{randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"] = None
    return list(pins)


async def issue_batch(  # noqa: PLR0917 - every input of a batch, explicit
    uow_factory: UnitOfWorkFactory,
    salt: bytes,
    now: datetime,
    batch: str,
    count: int,
    face_value: int,
    currency: str,
    *,
    randbelow: RandBelow = secrets.randbelow,
) -> list[tuple[str, str]]:
    """Store ``count`` new cards of ``face_value``; the (serial, clear PIN) pairs, in order.

    VoucherBatchInvalid (name, count 1-10 000, face value > 0, currency) or
    VoucherBatchExists; nothing is stored then.
    """
    check_batch(batch, count, face_value, currency)
    pins = _new_pins(count, randbelow)
    cards = [(serial_of(batch, number), pin) for number, pin in enumerate(pins, start=1)]
    vouchers = [
        Voucher(
            serial=serial,
            pin_hash=pin_hash(pin, salt),
            face_value=face_value,
            currency=currency,
            batch=batch,
            created_at=now,
        )
        for serial, pin in cards
    ]
    async with uow_factory() as uow:
        if await uow.vouchers.batch(batch) is not None:
            raise VoucherBatchExists(f"a batch named {batch!r} exists; choose another name")
        try:
            await uow.vouchers.add_many(vouchers)
        except ValueError as exc:  # a concurrent issue of the same name won the serials
            raise VoucherBatchExists(
                f"a batch named {batch!r} exists; choose another name"
            ) from exc
        await uow.commit()
    return cards


async def void_batch(
    uow_factory: UnitOfWorkFactory, batch: str
) -> tuple[VoucherBatch, VoucherBatch, int]:
    """Void the batch's unredeemed cards: its summary before and after, and how many changed.

    VoucherBatchUnknown if no card belongs to ``batch``. Voiding again changes nothing (0).
    """
    async with uow_factory() as uow:
        before = await uow.vouchers.batch(batch)
        voided = 0 if before is None else await uow.vouchers.void_batch(batch)
        after = await uow.vouchers.batch(batch)
        if before is None or after is None:
            raise VoucherBatchUnknown(f"no voucher batch is named {batch!r}")
        await uow.commit()
    return before, after, voided
