"""Scratch-card voucher batches: the rules of a batch and its summary (pure: no I/O).

A batch is a named print run of cards of one face value and currency. Card ``n`` of batch
``B`` has the serial ``B-00000n`` (six digits, so a batch holds at most
:data:`MAX_BATCH_SIZE` = 10 000 cards and serials sort in print order). A card's PIN is
:data:`PIN_DIGITS` random digits (drawn by the service layer, which owns randomness) and is
stored only as :func:`pin_hash`: ``HMAC-SHA256(salt, digits)`` under a deployment secret.
The clear PINs exist once, when the batch is made, to be printed.

A card is ``active`` until it is redeemed (``redeemed``) or its batch is voided (``void``):
voiding stops every unredeemed card of the batch and leaves the redeemed ones as they are.

Refusals (each a back-office :class:`~vending_core.domain.errors.VendingError` with a stable code)::

    VoucherBatchInvalid  voucher-batch-invalid  bad name, count, face value or currency
    VoucherBatchExists   voucher-batch-exists   a batch of that name was made before
    VoucherBatchUnknown  voucher-batch-unknown  no batch has that name
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from vending_core.domain.errors import BackOfficeRefusal

__all__ = [
    "BATCH_NAME",
    "MAX_BATCH_SIZE",
    "PIN_DIGITS",
    "VoucherBatch",
    "VoucherBatchExists",
    "VoucherBatchInvalid",
    "VoucherBatchUnknown",
    "check_batch",
    "pin_hash",
    "serial_of",
]

PIN_DIGITS: Final = 16  #: about 53 bits: guessing is stopped by the redemption lockout
MAX_BATCH_SIZE: Final = 10_000
#: Letters, digits, ``.``, ``_``, ``-``; at most 25 characters so that the serial
#: (name + ``-`` + 6 digits) fits the 32 characters of ``vouchers.serial``.
BATCH_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,24}")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")


class VoucherBatchInvalid(BackOfficeRefusal, ValueError):  # noqa: N818 - named for what happened, like the domain's refusals
    """The batch's name, count, face value or currency breaks a rule (the message says which).

    Also a ``ValueError``: the adapters' ``create_vouchers`` always raised one for these.
    """

    code = "voucher-batch-invalid"


class VoucherBatchExists(BackOfficeRefusal):
    """A batch of that name exists: serials would repeat, and a re-run must not print twice."""

    code = "voucher-batch-exists"


class VoucherBatchUnknown(BackOfficeRefusal):
    """No card belongs to a batch of that name."""

    code = "voucher-batch-unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class VoucherBatch:
    """A batch as the repository sums it up: counts by status and values (minor units)."""

    batch: str
    currency: str
    face_value: int  #: of each card (a batch is made with one face value)
    count: int
    active: int
    redeemed: int
    void: int
    total_value: int  #: the face values of every card
    active_value: int  #: of the cards still redeemable (the outstanding liability)
    redeemed_value: int  #: of the redeemed cards
    created_at: datetime  #: when its first card was made


def check_batch(batch: str, count: int, face_value: int, currency: str) -> None:
    """VoucherBatchInvalid unless the batch can be made as asked."""
    if not BATCH_NAME.fullmatch(batch):
        raise VoucherBatchInvalid(
            "a batch name is 1-25 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if not 1 <= count <= MAX_BATCH_SIZE:
        raise VoucherBatchInvalid(f"a batch has 1 to {MAX_BATCH_SIZE} cards, not {count}")
    if face_value <= 0:
        raise VoucherBatchInvalid("the face value must be positive (minor units)")
    if not _CURRENCY.fullmatch(currency):
        raise VoucherBatchInvalid("the currency is a three-letter ISO 4217 code")


def serial_of(batch: str, number: int) -> str:
    """The printed serial of card ``number`` (1-based) of ``batch``."""
    return f"{batch}-{number:06d}"


def pin_hash(pin: str, salt: bytes) -> str:
    """The stored form of a PIN (spaces and dashes ignored): hex HMAC-SHA256 under ``salt``."""
    digits = pin.replace(" ", "").replace("-", "")
    return hmac.new(salt, digits.encode(), hashlib.sha256).hexdigest()
