"""The payment-provider port: ask a payer for money, learn how it ended.

A provider (mobile money, sandbox, wallet, voucher) is driven in two directions:

* :meth:`PaymentProvider.start` asks the payer for ``amount`` (an M-Pesa STK push, a wallet
  debit, a voucher redemption). It answers with the provider's own reference for the request
  (M-Pesa's ``CheckoutRequestID``), which later results are matched on; it does *not* say the
  money was taken. It raises :class:`PaymentRefused` when the provider said no at once
  (bad number, voucher used, wallet empty) and :class:`PaymentUnavailable` when it could not
  be reached or its answer is unknown (the request may or may not have reached the payer).
* Results arrive later as :class:`ProviderResult`: from the provider's HTTP callback
  (:meth:`PaymentProvider.parse_callback`), from a status query (:meth:`PaymentProvider.query`)
  or, for in-process providers (sandbox, wallet, voucher), through the ``deliver`` callable the
  composition root gives them. Every path feeds the one idempotent ``apply_payment_result``
  use case; duplicates and late results are normal.

Amounts are integer minor units of the utility's currency. Providers that work in whole units
(M-Pesa) convert at their boundary and refuse amounts they cannot represent.

Secrets (voucher PINs, provider credentials) travel only in :attr:`PaymentRequest.secret` or
the adapter's own configuration; they are never logged and never stored in clear.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "Deliver",
    "PaymentAccepted",
    "PaymentError",
    "PaymentOutcome",
    "PaymentProvider",
    "PaymentRefused",
    "PaymentRequest",
    "PaymentUnavailable",
    "ProviderResult",
]


class PaymentError(Exception):
    """A provider problem, translated at the adapter boundary; ``code`` is stable."""

    code = "payment-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class PaymentRefused(PaymentError):
    """The provider refused the request outright: nothing will be charged."""

    code = "payment-refused"


class PaymentUnavailable(PaymentError):
    """The provider could not be reached or answered unclearly: the outcome is unknown."""

    code = "payment-unavailable"


class PaymentOutcome(enum.StrEnum):
    """How a payment request ended, as the provider reports it."""

    PAID = "paid"  #: money taken
    FAILED = "failed"  #: refused, insufficient funds, wrong PIN...: nothing taken
    ABANDONED = "abandoned"  #: the payer cancelled
    PENDING = "pending"  #: not final yet, or unknown (a timeout is not a failure)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentRequest:
    """What to ask the payer for. ``payment_id`` is our intent id, unique and stable."""

    payment_id: str
    msisdn: str  #: the payer, international digits without ``+`` (``254712345678``)
    amount: int  #: minor units
    currency: str  #: ISO 4217
    account_reference: str  #: shown to the payer: the meter number
    description: str = "Prepaid electricity"
    secret: str | None = field(default=None, repr=False)  #: voucher PIN; never logged


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentAccepted:
    """The provider took the request; results will carry ``provider_reference``."""

    provider_reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderResult:
    """One report from a provider about one request.

    ``amount`` is what the provider says was paid (minor units; None when it does not say).
    ``receipt`` is the provider's unique transaction number (M-Pesa receipt), the
    reconciliation key. ``raw`` keeps the provider's payload for audit (no secrets in it).
    """

    provider: str
    provider_reference: str
    outcome: PaymentOutcome
    amount: int | None = None
    receipt: str | None = None
    reason: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)
    #: Our intent id, when the provider knows it (in-process providers, the sandbox): lets a
    #: report that arrives before the intent stored ``provider_reference`` find its payment.
    payment_id: str | None = None


Deliver = Callable[[ProviderResult], Awaitable[None]]
"""How in-process providers report results: the gateway passes ``apply_payment_result``."""


class PaymentProvider(Protocol):
    """One payment provider. Implementations: sandbox, wallet, voucher, M-Pesa Daraja."""

    @property
    def name(self) -> str:
        """The provider's name in URLs and records (``sandbox``, ``mpesa``...)."""
        ...

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Ask the payer; raise PaymentRefused or PaymentUnavailable."""
        ...

    async def query(self, provider_reference: str) -> ProviderResult:
        """The request's status now (PENDING while not final); PaymentUnavailable on error."""
        ...

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """Turn the provider's callback body into a result; PaymentError if malformed."""
        ...
