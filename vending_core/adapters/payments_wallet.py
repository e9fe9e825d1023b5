"""The wallet payment provider: a customer's prepaid balance per msisdn.

Money moves only through append-only ledger entries (vending.md §5). A payment's debit is
the entry with reference ``payment:<payment id>``, unique in the database, so a retried
``start`` (or a concurrent duplicate) never debits twice: it finds the entry and reports
PAID again. The wallet row is locked while the balance is checked and moved.

The provider is in-process: ``start`` debits, commits, then reports PAID through
``deliver`` (the composition root passes ``apply_payment_result``). Its provider reference
is our payment id, which ``apply_payment_result`` also matches on before the intent has
stored it. Refusal: ``PaymentRefused`` with code ``insufficient`` (no wallet, or the
balance does not cover the amount). Currency is not converted: a wallet holds the
utility's one currency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from vending_core.adapters.sql import utc_now
from vending_core.domain.payments import WalletEntry
from vending_core.service.payment_ports import (
    Deliver,
    PaymentAccepted,
    PaymentError,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    ProviderResult,
)
from vending_core.service.ports import UnitOfWorkFactory

__all__ = ["WalletProvider", "credit_wallet", "debit_reference"]

_LOG = logging.getLogger(__name__)


def debit_reference(payment_id: str) -> str:
    """The wallet entry reference of a payment's debit."""
    return f"payment:{payment_id}"


async def credit_wallet(  # noqa: PLR0917 - every input of a top-up, explicit
    uow_factory: UnitOfWorkFactory,
    msisdn: str,
    amount: int,
    reference: str,
    now: datetime,
    currency: str = "KES",
) -> int:
    """Top up the wallet (opened if new) by ``amount``; returns the balance after.

    ``reference`` is unique (the top-up's receipt): repeating it credits nothing again.
    """
    if amount <= 0:
        raise ValueError(f"a top-up must be positive, not {amount}")
    async with uow_factory() as uow:
        await uow.wallets.open(msisdn, currency, now)
        balance = await uow.wallets.balance(msisdn, lock=True) or 0
        entry = WalletEntry(
            msisdn=msisdn,
            at=now,
            amount=amount,
            balance_after=balance + amount,
            kind="top_up",
            reference=reference,
        )
        if await uow.wallets.add_entry(entry):
            balance += amount
        await uow.commit()
    return balance


class WalletProvider:
    """``PaymentProvider`` over the wallet repository (see the module docstring)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        deliver: Deliver | None = None,
        *,
        name: str = "wallet",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._uow = uow_factory
        self._deliver = deliver
        self._name = name
        self._clock = clock

    @property
    def name(self) -> str:
        """The provider's name in records."""
        return self._name

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Debit the wallet once per payment; report PAID; PaymentRefused("insufficient")."""
        reference = debit_reference(request.payment_id)
        async with self._uow() as uow:
            if await uow.wallets.entry(reference) is None:
                balance = await uow.wallets.balance(request.msisdn, lock=True)
                if balance is None or balance < request.amount:
                    raise PaymentRefused(
                        "the wallet balance does not cover the amount", code="insufficient"
                    )
                entry = WalletEntry(
                    msisdn=request.msisdn,
                    at=self._clock(),
                    amount=-request.amount,
                    balance_after=balance - request.amount,
                    kind="payment",
                    reference=reference,
                )
                await uow.wallets.add_entry(entry)
                await uow.commit()
        await self._report(request.payment_id, request.amount)
        return PaymentAccepted(provider_reference=request.payment_id)

    async def _report(self, payment_id: str, amount: int) -> None:
        if self._deliver is None:
            return
        try:
            await self._deliver(self._paid(payment_id, amount))
        except Exception:  # the debit stands; a status query reports it again
            _LOG.exception("wallet: reporting payment %s failed", payment_id)

    def _paid(self, payment_id: str, amount: int) -> ProviderResult:
        reference = debit_reference(payment_id)
        return ProviderResult(
            provider=self._name,
            provider_reference=payment_id,
            outcome=PaymentOutcome.PAID,
            payment_id=payment_id,
            amount=amount,
            receipt=reference,
            raw={"wallet_entry": reference, "amount": amount},
        )

    async def query(self, provider_reference: str) -> ProviderResult:
        """PAID if the payment's debit is in the ledger, else FAILED (nothing was taken)."""
        async with self._uow() as uow:
            entry = await uow.wallets.entry(debit_reference(provider_reference))
        if entry is not None:
            return self._paid(provider_reference, -entry.amount)
        return ProviderResult(
            provider=self._name,
            provider_reference=provider_reference,
            outcome=PaymentOutcome.FAILED,
            reason="no debit",
        )

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """The wallet has no callbacks: always PaymentError."""
        raise PaymentError("the wallet provider has no callbacks", code="payment-no-callback")
