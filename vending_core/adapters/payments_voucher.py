"""The voucher payment provider: scratch cards with a PIN, single use, brute-force lockout.

PINs (16 random digits, about 53 bits) are stored only as ``HMAC-SHA256(salt, pin)``: the
salt is a deployment secret from configuration, never in the database. Why not scrypt with
a salt per card: a customer types only the PIN, so the card must be found by its hash
(one indexed lookup, unique in the database); a per-card salt would mean hashing the PIN
once per stored card, and scrypt's cost protects guessable passwords, not 53-bit random
PINs, while on a 2-core server it would make every attempt a CPU cost an attacker controls.
Without the salt a database dump cannot be searched for PINs at all; online guessing is
stopped by the lockout.

Rules:

* ``start`` redeems ``request.secret``. The amount must equal the card's face value and the
  currency its currency (``voucher-amount``); the purchase is for the card's value, so the
  channel asks for the card first and prices that amount.
* Single use: ``UPDATE ... WHERE status = 'active'`` (one of any number of concurrent
  redemptions wins). A retry of the same payment finds the card redeemed by it and is PAID
  again; anyone else gets ``voucher-used``. A card of a voided batch (status ``void``) is
  refused like an unknown PIN (``voucher-invalid``).
* Lockout (:class:`LockoutPolicy`, default 5 failed PINs in 15 minutes locks the msisdn for
  30 minutes): unknown and used PINs are failures; while locked nothing is looked up
  (``voucher-locked``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vending_core.adapters.sql import utc_now
from vending_core.domain.payments import Voucher, VoucherStatus
from vending_core.domain.vouchers import pin_hash
from vending_core.service.payment_ports import (
    Deliver,
    PaymentAccepted,
    PaymentError,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    ProviderResult,
)
from vending_core.service.ports import UnitOfWork, UnitOfWorkFactory
from vending_core.service.voucher_batches import issue_batch

__all__ = ["LockoutPolicy", "VoucherProvider", "create_vouchers", "locked_until", "pin_hash"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` failed PINs within ``window`` lock the msisdn for ``lockout``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=30)


def locked_until(failures: Sequence[datetime], policy: LockoutPolicy) -> datetime | None:
    """When the lock from ``failures`` (ascending) ends; None if they never locked it.

    A lock starts at a failure that is the ``max_failures``-th within ``window``.
    """
    until = None
    span = policy.max_failures - 1
    for index in range(span, len(failures)):
        if failures[index] - failures[index - span] <= policy.window:
            until = failures[index] + policy.lockout
    return until


async def create_vouchers(  # noqa: PLR0917 - every input of a batch, explicit
    uow_factory: UnitOfWorkFactory,
    batch: str,
    count: int,
    face_value: int,
    salt: bytes,
    now: datetime,
    currency: str = "KES",
) -> list[tuple[str, str]]:
    """Store ``count`` new cards of ``face_value``; returns (serial, clear PIN) pairs.

    This is the only time the clear PINs exist: print them, never store or log them.
    The batch rules and refusals are :func:`vending_core.service.voucher_batches.issue_batch`
    (a ``ValueError`` for a bad count or face value, as always).
    """
    return await issue_batch(uow_factory, salt, now, batch, count, face_value, currency)


def _refusal_code(voucher: Voucher | None) -> str:
    """``voucher-used`` for a redeemed (or just-redeemed) card; unknown or void: invalid."""
    if voucher is None or voucher.status is VoucherStatus.VOID:
        return "voucher-invalid"
    return "voucher-used"


class VoucherProvider:
    """``PaymentProvider`` redeeming scratch cards (see the module docstring)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        salt: bytes,
        deliver: Deliver | None = None,
        *,
        policy: LockoutPolicy | None = None,
        name: str = "voucher",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._uow = uow_factory
        self._salt = salt
        self._deliver = deliver
        self._policy = policy or LockoutPolicy()
        self._name = name
        self._clock = clock

    @property
    def name(self) -> str:
        """The provider's name in records."""
        return self._name

    async def face_value(self, msisdn: str, pin: str) -> int:
        """What an unused card is worth (minor units), to price a purchase paid with it.

        Counts as an attempt for the lockout like a redemption does: PaymentRefused
        (``voucher-locked``, ``voucher-invalid``, ``voucher-used``) otherwise.
        """
        now = self._clock()
        async with self._uow() as uow:
            policy = self._policy
            failures = await uow.vouchers.failures_since(
                msisdn, now - policy.window - policy.lockout
            )
            until = locked_until(failures, policy)
            if until is not None and now < until:
                raise PaymentRefused("too many wrong PINs; try again later", code="voucher-locked")
            voucher = await uow.vouchers.get_by_pin_hash(pin_hash(pin, self._salt))
            if voucher is None or voucher.status is not VoucherStatus.ACTIVE:
                await uow.vouchers.add_attempt(msisdn, now, ok=False)
                await uow.commit()
                code = _refusal_code(voucher)
                raise PaymentRefused("the voucher PIN is not valid or was used", code=code)
            return voucher.face_value

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Redeem the PIN in ``request.secret``; report PAID; PaymentRefused on any refusal."""
        if not request.secret:
            raise PaymentRefused("no voucher PIN was given", code="voucher-invalid")
        async with self._uow() as uow:
            voucher = await self._redeem(uow, request, self._clock())
        await self._report(request.payment_id, voucher)
        return PaymentAccepted(provider_reference=request.payment_id)

    async def _redeem(self, uow: UnitOfWork, request: PaymentRequest, now: datetime) -> Voucher:
        policy = self._policy
        failures = await uow.vouchers.failures_since(
            request.msisdn, now - policy.window - policy.lockout
        )
        until = locked_until(failures, policy)
        if until is not None and now < until:
            raise PaymentRefused("too many wrong PINs; try again later", code="voucher-locked")
        voucher = await uow.vouchers.get_by_pin_hash(pin_hash(request.secret or "", self._salt))
        if voucher is not None and voucher.payment_id == request.payment_id:
            return voucher  # a retry of the payment that redeemed it
        if voucher is not None and (
            voucher.face_value != request.amount or voucher.currency != request.currency
        ):
            raise PaymentRefused(
                f"the voucher is worth {voucher.face_value} {voucher.currency}",
                code="voucher-amount",
            )
        if voucher is None or not await uow.vouchers.redeem(
            voucher.id or 0, msisdn=request.msisdn, payment_id=request.payment_id, at=now
        ):
            await uow.vouchers.add_attempt(request.msisdn, now, ok=False)
            await uow.commit()
            code = _refusal_code(voucher)
            raise PaymentRefused("the voucher PIN is not valid or was used", code=code)
        await uow.vouchers.add_attempt(request.msisdn, now, ok=True)
        await uow.commit()
        return voucher

    async def _report(self, payment_id: str, voucher: Voucher) -> None:
        if self._deliver is None:
            return
        try:
            await self._deliver(self._paid(payment_id, voucher))
        except Exception:  # the card is redeemed; a status query reports it again
            _LOG.exception("voucher: reporting payment %s failed", payment_id)

    def _paid(self, payment_id: str, voucher: Voucher) -> ProviderResult:
        return ProviderResult(
            provider=self._name,
            provider_reference=payment_id,
            outcome=PaymentOutcome.PAID,
            payment_id=payment_id,
            amount=voucher.face_value,
            receipt=f"V-{voucher.serial}",
            raw={"serial": voucher.serial, "face_value": voucher.face_value},
        )

    async def query(self, provider_reference: str) -> ProviderResult:
        """PAID if a card was redeemed for the payment, else FAILED (nothing was taken)."""
        async with self._uow() as uow:
            voucher = await uow.vouchers.get_by_payment(provider_reference)
        if voucher is not None and voucher.status is VoucherStatus.REDEEMED:
            return self._paid(provider_reference, voucher)
        return ProviderResult(
            provider=self._name,
            provider_reference=provider_reference,
            outcome=PaymentOutcome.FAILED,
            reason="no voucher redeemed",
        )

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """Vouchers have no callbacks: always PaymentError."""
        raise PaymentError("the voucher provider has no callbacks", code="payment-no-callback")
