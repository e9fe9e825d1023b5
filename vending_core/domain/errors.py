"""The vending domain's exception tree.

Every refusal the core gives a channel is a :class:`VendingError` with a stable
machine-readable ``code`` (used for RFC 9457 problem types, USSD/SMS texts in the
customer's language and SMPP statuses at the boundaries) and an English message
for logs and support staff::

    VendingError
    ├── MeterUnknown           no meter with that number
    ├── MeterBlocked           meter blocked by the utility
    ├── InvalidMeterNumber     not a valid meter number (length, check digit)
    ├── AmountOutOfRange       below the tariff minimum or above its maximum
    ├── NothingToBuy           charges and debt take the whole amount
    ├── FreeBasicNotDue        not registered, or this month's allocation was claimed
    ├── VendorFloatExhausted   the vendor's float and credit limit do not cover the sale
    ├── IdempotencyConflict    same request id, different request
    ├── TransactionNotFound    no transaction for that id (safe to retry as new)
    ├── ReversalRefused        the sale cannot be reversed (reason in the message)
    ├── KeyDataError           the meter's key data cannot make a token (STS data)
    └── TidExhausted           the meter's base date has rolled over: re-key it first
"""

from __future__ import annotations

__all__ = [
    "AmountOutOfRange",
    "BackOfficeRefusal",
    "FreeBasicNotDue",
    "IdempotencyConflict",
    "InvalidMeterNumber",
    "KeyDataError",
    "MeterBlocked",
    "MeterUnknown",
    "NothingToBuy",
    "ReversalRefused",
    "TidExhausted",
    "TransactionNotFound",
    "VendingError",
    "VendorFloatExhausted",
]


class VendingError(Exception):
    """A purchase or operation the core refuses, with a stable ``code``."""

    code = "vending-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BackOfficeRefusal(VendingError):
    """A refusal of a back-office operation (shifts, maintenance, voucher batches...).

    Answered to staff as problem JSON by the admin API; it never reaches a customer's USSD or
    SMS screen, so it needs no text in the customer catalogues.
    """

    code = "back-office-refusal"


class MeterUnknown(VendingError):
    """No meter is registered under that number."""

    code = "meter-unknown"


class MeterBlocked(VendingError):
    """The utility has blocked sales to this meter."""

    code = "meter-blocked"


class InvalidMeterNumber(VendingError):
    """The text is not a valid meter number (length or check digit)."""

    code = "meter-number-invalid"


class AmountOutOfRange(VendingError):
    """The amount is below the tariff's minimum or above its maximum purchase."""

    code = "amount-out-of-range"

    def __init__(self, message: str, *, minimum: int, maximum: int | None) -> None:
        super().__init__(message)
        self.minimum = minimum
        self.maximum = maximum


class NothingToBuy(VendingError):
    """After charges and debt, the amount buys less than 0.1 unit."""

    code = "nothing-to-buy"


class FreeBasicNotDue(VendingError):
    """The meter is not registered for FBE, or has had this month's allocation."""

    code = "fbe-not-due"


class VendorFloatExhausted(VendingError):
    """The vendor's float plus credit limit does not cover the sale."""

    code = "vendor-float-exhausted"


class IdempotencyConflict(VendingError):
    """A request id was reused with a different request."""

    code = "idempotency-conflict"


class TransactionNotFound(VendingError):
    """No transaction is stored for that request id: the client may retry as new."""

    code = "transaction-not-found"


class ReversalRefused(VendingError):
    """The sale cannot be reversed (already reversed, confirmed, too old, or not a sale)."""

    code = "reversal-refused"


class KeyDataError(VendingError):
    """The meter's key data (SGC, KRN, TI, key) cannot produce a token."""

    code = "sts-data"


class TidExhausted(VendingError):
    """The meter's base date has no TIDs left: it needs a key change to a later base date."""

    code = "tid-exhausted"
