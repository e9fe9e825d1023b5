"""Payment intents and their state machine (pure: no I/O, time comes in as an argument).

A :class:`Payment` is recorded PENDING *before* the provider is asked (vending.md §4), and
every provider report (callback, status query, in-process provider) goes through one pure
function, :func:`apply`, which returns the new payment and what the caller must do next
(:class:`Decision`)::

    PENDING ──paid, amount as asked──► PAID ──vend stored──► VENDED
       │ ──paid, other amount────────► CONFLICT
       │ ──failed / abandoned────────► FAILED / ABANDONED
       │ ──pending───────────────────► PENDING  (a timeout is "unknown", not failed)
       └ ──expires_at passed─────────► EXPIRED  (:func:`expire`)

    FAILED / ABANDONED / EXPIRED ──paid──► CONFLICT   (money taken after we gave up)
    PAID, VENDED, CONFLICT: sticky; any other report changes nothing.

Terminal states are sticky because providers redeliver callbacks. A PAID report after
FAILED, ABANDONED or EXPIRED is never a vend: the customer was told the purchase failed, so
staff review it (refund or vend by hand). A PAID payment whose vend is refused stays PAID
with the refusal in ``vend_error`` (the visible paid-not-vended queue) and is retried; only
:func:`record_vend` moves it to VENDED, once, with the vend's id.

A PAID report that does not state an amount (``amount=None``) is taken as the amount asked:
in-process providers (wallet, voucher) take exactly the requested amount.

Wallet and voucher records (the two in-database providers) are plain values here too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from vending_core.domain.errors import VendingError

__all__ = [
    "CHANNELS",
    "FINAL",
    "Decision",
    "IllegalPaymentTransition",
    "Outcome",
    "Payment",
    "PaymentEvent",
    "PaymentNotFound",
    "PaymentStatus",
    "Report",
    "Voucher",
    "VoucherStatus",
    "WalletEntry",
    "accept",
    "apply",
    "expire",
    "new_payment",
    "record_vend",
    "record_vend_failure",
    "refuse",
]

CHANNELS: Final = frozenset({"ussd", "sms", "api"})


class PaymentStatus(enum.StrEnum):
    """Where a payment intent stands."""

    PENDING = "pending"  #: asked, no final answer yet (or the answer is unknown)
    PAID = "paid"  #: money taken, token not stored yet (the paid-not-vended queue)
    VENDED = "vended"  #: money taken and the one vend stored
    FAILED = "failed"  #: the provider refused: nothing taken
    ABANDONED = "abandoned"  #: the payer cancelled
    CONFLICT = "conflict"  #: money taken but not vendable: manual review
    EXPIRED = "expired"  #: no final answer before ``expires_at``


#: States no report moves any more.
FINAL: Final = frozenset({PaymentStatus.VENDED, PaymentStatus.CONFLICT})
_GAVE_UP: Final = frozenset({PaymentStatus.FAILED, PaymentStatus.ABANDONED, PaymentStatus.EXPIRED})


class Outcome(enum.StrEnum):
    """A provider's report, as the domain sees it (the values of ``PaymentOutcome``)."""

    PAID = "paid"
    FAILED = "failed"
    ABANDONED = "abandoned"
    PENDING = "pending"


class Decision(enum.StrEnum):
    """What the caller must do after a transition."""

    NONE = "none"  #: nothing (a duplicate, a late report, still pending)
    VEND = "vend"  #: the payment is PAID and not vended: run (or re-run) its one vend
    REVIEW = "review"  #: it just became CONFLICT: tell staff
    CLOSED = "closed"  #: it just failed, was abandoned or expired: tell the customer


class PaymentNotFound(VendingError):  # noqa: N818 - named for what happened, as the domain's
    """No payment intent matches the id or provider reference."""

    code = "payment-unknown"


class IllegalPaymentTransition(VendingError):  # noqa: N818 - as above
    """The change is not allowed from the payment's state (state left unchanged)."""

    code = "payment-state"


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One provider report, reduced to what the state machine needs."""

    outcome: Outcome
    amount: int | None = None
    receipt: str | None = None
    reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """A payment intent: one purchase, asked of one provider, keyed by the purchase request."""

    id: str  #: uuid4 hex, made by the service; the vend's request id
    provider: str
    provider_reference: str | None = None  #: None until the provider accepted the request
    msisdn: str
    meter_number: str
    amount: int  #: minor units
    currency: str
    channel: str  #: ussd, sms, api
    client_id: str  #: with request_id: the purchase's idempotency key (unique)
    request_id: str
    status: PaymentStatus = PaymentStatus.PENDING
    receipt: str | None = None  #: the provider's transaction number (reconciliation key)
    reason: str = ""  #: why it failed, was abandoned, expired or is a conflict
    vend_id: int | None = None
    vend_error: str | None = None  #: last vend refusal code while PAID (paid-not-vended)
    vend_attempts: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict)  #: payload that made it final
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentEvent:
    """An append-only line of a payment's history, with the provider's raw payload."""

    payment_id: str
    at: datetime
    kind: str  #: created, accepted, refused, report, vend, vend_error, expired
    status: PaymentStatus  #: the status after the event
    outcome: str | None = None
    amount: int | None = None
    receipt: str | None = None
    detail: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


def new_payment(
    *,
    payment_id: str,
    provider: str,
    msisdn: str,
    meter_number: str,
    amount: int,
    currency: str,
    channel: str,
    client_id: str,
    request_id: str,
    now: datetime,
    expires_at: datetime,
) -> Payment:
    """A new PENDING intent; ValueError for a non-positive amount, unknown channel or TTL."""
    if amount <= 0:
        raise ValueError(f"a payment needs a positive amount, not {amount}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (one of {sorted(CHANNELS)})")
    if now.utcoffset() is None or expires_at <= now:
        raise ValueError("times must be aware and the payment must expire after it is made")
    return Payment(
        id=payment_id,
        provider=provider,
        msisdn=msisdn,
        meter_number=meter_number,
        amount=amount,
        currency=currency,
        channel=channel,
        client_id=client_id,
        request_id=request_id,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )


def apply(payment: Payment, report: Report, now: datetime) -> tuple[Payment, Decision]:
    """The payment after ``report``, and what to do next (see the module docstring).

    An unchanged payment is returned as the same object.
    """
    status, outcome = payment.status, report.outcome
    if status is PaymentStatus.PENDING:
        return _from_pending(payment, report, now)
    if status is PaymentStatus.PAID:
        return payment, Decision.VEND
    if status in _GAVE_UP and outcome is Outcome.PAID:
        reason = f"paid after the payment was {status.value}"
        return _conflict(payment, report, now, reason), Decision.REVIEW
    return payment, Decision.NONE


def _from_pending(payment: Payment, report: Report, now: datetime) -> tuple[Payment, Decision]:
    outcome = report.outcome
    if outcome is Outcome.PENDING:
        return payment, Decision.NONE
    if outcome is Outcome.PAID:
        if report.amount is not None and report.amount != payment.amount:
            reason = f"amount mismatch: paid {report.amount}, asked {payment.amount}"
            return _conflict(payment, report, now, reason), Decision.REVIEW
        paid = replace(
            payment,
            status=PaymentStatus.PAID,
            receipt=report.receipt,
            raw=dict(report.raw),
            updated_at=now,
        )
        return paid, Decision.VEND
    status = PaymentStatus.FAILED if outcome is Outcome.FAILED else PaymentStatus.ABANDONED
    closed = replace(
        payment,
        status=status,
        reason=report.reason or outcome.value,
        raw=dict(report.raw),
        updated_at=now,
    )
    return closed, Decision.CLOSED


def _conflict(payment: Payment, report: Report, now: datetime, reason: str) -> Payment:
    return replace(
        payment,
        status=PaymentStatus.CONFLICT,
        receipt=report.receipt or payment.receipt,
        reason=reason,
        raw=dict(report.raw),
        updated_at=now,
    )


def accept(payment: Payment, provider_reference: str, now: datetime) -> Payment:
    """Store the provider's reference for the request (any state: a result may be first)."""
    if payment.provider_reference == provider_reference:
        return payment
    if payment.provider_reference is not None:
        raise IllegalPaymentTransition(
            f"payment {payment.id} already has provider reference {payment.provider_reference}"
        )
    return replace(payment, provider_reference=provider_reference, updated_at=now)


def refuse(payment: Payment, reason: str, now: datetime) -> tuple[Payment, Decision]:
    """The provider refused the request outright: a PENDING payment FAILED, others unchanged."""
    return apply(payment, Report(outcome=Outcome.FAILED, reason=reason), now)


def expire(payment: Payment, now: datetime) -> tuple[Payment, Decision]:
    """A PENDING payment past ``expires_at`` becomes EXPIRED; anything else is unchanged."""
    if payment.status is not PaymentStatus.PENDING or now < payment.expires_at:
        return payment, Decision.NONE
    expired = replace(
        payment, status=PaymentStatus.EXPIRED, reason="no final answer in time", updated_at=now
    )
    return expired, Decision.CLOSED


def record_vend(payment: Payment, vend_id: int, now: datetime) -> Payment:
    """PAID -> VENDED with the vend's id (the same id again changes nothing)."""
    if payment.status is PaymentStatus.VENDED and payment.vend_id == vend_id:
        return payment
    if payment.status is not PaymentStatus.PAID:
        raise IllegalPaymentTransition(
            f"payment {payment.id} is {payment.status.value}: it cannot take vend {vend_id}"
        )
    return replace(
        payment, status=PaymentStatus.VENDED, vend_id=vend_id, vend_error=None, updated_at=now
    )


def record_vend_failure(payment: Payment, code: str, now: datetime) -> Payment:
    """A PAID payment's vend was refused or failed: it stays PAID, the code is recorded."""
    if payment.status is not PaymentStatus.PAID:
        raise IllegalPaymentTransition(
            f"payment {payment.id} is {payment.status.value}, not waiting for a vend"
        )
    return replace(
        payment, vend_error=code, vend_attempts=payment.vend_attempts + 1, updated_at=now
    )


class VoucherStatus(enum.StrEnum):
    """A scratch card's state (``void``: its batch was voided before it was redeemed)."""

    ACTIVE = "active"
    REDEEMED = "redeemed"
    VOID = "void"


@dataclass(frozen=True, slots=True, kw_only=True)
class Voucher:
    """A scratch card: the PIN is stored only as its keyed hash (``pin_hash``)."""

    id: int | None = None
    serial: str  #: printed on the card, not secret
    pin_hash: str = field(repr=False)
    face_value: int  #: minor units
    currency: str
    batch: str
    status: VoucherStatus = VoucherStatus.ACTIVE
    created_at: datetime
    redeemed_at: datetime | None = None
    redeemed_by: str | None = None  #: msisdn
    payment_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletEntry:
    """An append-only wallet movement (top-up positive, payment negative)."""

    msisdn: str
    at: datetime
    amount: int
    balance_after: int
    kind: str  #: top_up, payment
    reference: str  #: unique: a payment's debit is ``payment:<id>``, so a retry never repeats
