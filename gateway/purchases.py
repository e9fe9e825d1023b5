"""Paid purchases for the phone channels: payment, exactly one vend, token SMS.

:class:`Purchases` joins the payment use cases (:mod:`vending_core.service.payments`), the
providers and the SMS outbox:

* :meth:`Purchases.start_ussd` records the payment intent and asks the provider; for
  in-process providers it then waits up to ``token_wait`` seconds for the vend so the final
  USSD screen can show the token (M-Pesa never: its PIN prompt needs the USSD session closed).
* :meth:`Purchases.apply` is where every provider result lands (HTTP callback, in-process
  ``deliver``, status poll): the one idempotent ``apply_payment_result`` step. A paid
  purchase commits twice: the report (PAID), then the vend, the payment's VENDED record and
  the vend's token SMS in the outbox, in one transaction (the SMS is queued by the
  ``on_vended`` hook, in the phone's language read in that transaction). After the commit
  the outbox dispatcher and the waiting USSD hop are woken. When the vend was stored by an
  earlier run (a replay), the token SMS is queued in a transaction of its own under the
  same dedupe key, so replays and redeliveries queue nothing new.
* :meth:`Purchases.run_maintenance` polls providers for payments still pending, expires
  stale ones, retries paid-not-vended ones (their SMS queued with the vend, as above) and
  re-queues token SMS of recent vends (a no-op unless a vend was stored without its SMS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from gateway.metrics import Metrics
from ussd_menus.actions import PaymentStarted, Refused, StartPurchase
from ussd_menus.menu_kit import REFUSALS, money, tenths, token_groups
from ussd_menus.texts import render_text
from vending_core.adapters.payments_voucher import VoucherProvider
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.domain.records import Vend
from vending_core.service import outbox, payments, queries
from vending_core.service.core import Core
from vending_core.service.payment_ports import PaymentProvider, PaymentRefused, ProviderResult
from vending_core.service.ports import UnitOfWork
from vending_core.service.results import VendResult
from vending_core.service.sms_ports import DeliveryReport

__all__ = ["Purchases", "token_params", "token_sms"]

_log = logging.getLogger(__name__)
_POLL: Final = 0.1  #: seconds to the first database check while a hop waits for its token
_POLL_MAX: Final = 1.0  #: the longest wait between two checks (the wait doubles up to it)
_NO_WAIT: Final = frozenset({"mpesa"})
#: How far back maintenance looks for vends whose token SMS was never queued (payments made
#: since then; a vend later than that after its payment, and a crash just then, is not seen).
TOKEN_SMS_SWEEP: Final = timedelta(hours=1)
_FAILED: Final = frozenset(
    {PaymentStatus.FAILED, PaymentStatus.ABANDONED, PaymentStatus.EXPIRED, PaymentStatus.CONFLICT}
)


@dataclass(frozen=True, slots=True)
class _Made:
    """A vend made in this process's vend transaction: its receipt, and whether it was texted."""

    receipt: VendResult
    texted: bool


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Purchases:
    """Payment-backed vending for USSD and SMS (one per gateway application)."""

    def __init__(
        self,
        *,
        core: Core,
        providers: Mapping[str, PaymentProvider],
        default_provider: str,
        currency: str,
        payment_ttl: float,
        token_wait: float,
        metrics: Metrics,
        wake_outbox: Callable[[], None],
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.core = core
        self.providers = providers
        self.default_provider = default_provider
        self.currency = currency
        self.payment_ttl = timedelta(seconds=payment_ttl)
        self.token_wait = token_wait
        self.metrics = metrics
        self._wake_outbox = wake_outbox
        self._clock = clock
        self._done: dict[str, asyncio.Event] = {}
        self._receipts: dict[str, VendResult] = {}  #: of vends made here, for waiting hops

    # ------------------------------------------------------------------ USSD

    async def start_ussd(self, action: StartPurchase) -> PaymentStarted | Refused:
        """Start (or find, on a retried hop) the session's payment; wait briefly for the token."""
        provider = self.providers[self.default_provider]
        payment = await payments.start_purchase(
            self.core,
            provider,
            msisdn=outbox.normalise_msisdn(action.msisdn),
            meter=action.meter,
            amount=action.amount,
            currency=self.currency,
            channel="ussd",
            client_id="ussd",
            request_id=action.idempotency_key,
            ttl=self.payment_ttl,
        )
        wait = 0.0 if provider.name in _NO_WAIT else self.token_wait
        return await self._outcome(payment, wait)

    async def _outcome(self, payment: Payment, wait: float) -> PaymentStarted | Refused:
        """What the final screen says: the token, a failure, or "approve on your phone".

        A vend made in this process wakes the waiter at once and hands it the receipt; a result
        applied by another process is seen by polling the database, every 0.1 s at first,
        then less often (doubling, at most every second).
        """
        event = self._done.setdefault(payment.id, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        poll = _POLL
        try:
            while True:
                if payment.status in _FAILED:
                    return Refused(code=_refusal(payment))
                if payment.vend_id is not None:
                    vend = await payments.payment_vend(self.core, payment.id)
                    if vend is not None and vend.tokens:
                        return _started(payment.id, vend)
                left = deadline - loop.time()
                if left <= 0:
                    return PaymentStarted(reference=payment.id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=min(left, poll))
                event.clear()
                receipt = self._receipts.pop(payment.id, None)
                if receipt is not None and receipt.tokens:
                    return _started(payment.id, receipt)
                poll = min(poll * 2, _POLL_MAX)
                payment = await payments.get_payment(self.core, payment.id)
        finally:
            self._done.pop(payment.id, None)
            self._receipts.pop(payment.id, None)

    # ------------------------------------------------------------------ SMS

    async def start_sms(
        self,
        *,
        meter: str,
        amount: int | None,
        msisdn: str,
        request_id: str,
        channel: str,
        voucher_pin: str | None = None,
    ) -> Payment:
        """Start the payment of an SMS purchase (the token comes by SMS when it is paid).

        With ``voucher_pin`` the scratch card pays and its face value is the amount. Raises the
        sale's VendingError, or PaymentRefused when the provider refused at once.
        """
        provider = self.providers[self.default_provider]
        if voucher_pin is not None:
            voucher = self.providers.get("voucher")
            if not isinstance(voucher, VoucherProvider):
                raise PaymentRefused("vouchers are not enabled", code="voucher-invalid")
            provider, amount = voucher, await voucher.face_value(msisdn, voucher_pin)
        if amount is None:
            raise ValueError("a purchase needs an amount or a voucher")
        payment = await payments.start_purchase(
            self.core,
            provider,
            msisdn=msisdn,
            meter=meter,
            amount=amount,
            currency=self.currency,
            channel="sms",
            client_id="sms",
            request_id=f"{channel}:{request_id}",
            ttl=self.payment_ttl,
            secret=voucher_pin,
        )
        if payment.status in _FAILED:
            raise PaymentRefused(payment.reason or "the payment failed", code=_refusal(payment))
        return payment

    def wake_outbox(self) -> None:
        """Tell the SMS dispatcher there is something to send now."""
        self._wake_outbox()

    # ------------------------------------------------------------------ provider results

    async def apply(self, result: ProviderResult) -> None:
        """Apply one provider result (idempotent); a new vend's token SMS is queued with it."""
        vended: dict[int, _Made] = {}
        payment = await payments.apply_payment_result(
            self.core, result, on_vended=self._sms_with_vend(vended)
        )
        self.metrics.payments.labels(result.provider, payment.status.value).inc()
        await self._after(payment, vended)

    def _sms_with_vend(self, vended: dict[int, _Made]) -> payments.OnVended:
        """The ``on_vended`` hook: queue the token SMS in the vend's transaction.

        The text is made from the vend's receipt (:func:`token_params`): the text
        :func:`token_sms` makes from the vend as stored. Keeps the receipt in ``vended`` under
        the vend's id, with whether an SMS was queued (not for an API sale, nor for a payer with
        no phone): it is there once the
        transaction committed, so read it only for a payment that came back VENDED with it.
        """

        async def queue_token_sms(uow: UnitOfWork, payment: Payment, result: VendResult) -> None:
            texted = bool(result.tokens) and _texted(payment)
            if texted:
                language = await _language(uow, payment.msisdn)
                text = render_text(language, "sms.token", token_params(result))
                await self._enqueue_token_sms(uow, payment, result.vend_id, text)
            vended[result.vend_id] = _Made(result, texted)

        return queue_token_sms

    async def _after(self, payment: Payment, vended: Mapping[int, _Made]) -> None:
        """After the commit: wake the outbox (queue the SMS first for a replay) and the hop.

        The waiting hop is handed the new vend's receipt, so it shows the token without
        reading the payment and the vend back.
        """
        made = None if payment.vend_id is None else vended.get(payment.vend_id)
        if made is None:
            if payment.vend_id is not None:
                await self._queue_token_sms(payment)
        elif made.texted:
            self._wake_outbox()
        event = self._done.get(payment.id)
        if event is not None:
            if made is not None:
                self._receipts[payment.id] = made.receipt
            event.set()

    async def _queue_token_sms(self, payment: Payment) -> None:
        """Queue the stored vend's token SMS in its own transaction, then wake the dispatcher.

        For a vend whose SMS was not queued with it (a replay, maintenance's re-queue): the
        dedupe key (the vend) makes it a no-op when the SMS is queued already.
        """
        vend_id = payment.vend_id
        if vend_id is None or not _texted(payment):
            return
        async with self.core.uow() as uow:
            vend = await uow.vends.get(vend_id)
            if vend is None or not vend.tokens:
                return
            text = token_sms(vend, await _language(uow, payment.msisdn))
            await self._enqueue_token_sms(uow, payment, vend_id, text)
            await uow.commit()
        self._wake_outbox()

    async def _enqueue_token_sms(
        self, uow: UnitOfWork, payment: Payment, vend_id: int, text: str
    ) -> None:
        """Queue vend ``vend_id``'s token SMS in ``uow`` (the caller commits)."""
        await outbox.enqueue_sms(
            uow,
            dedupe_key=outbox.token_sms_key(vend_id),
            msisdn=payment.msisdn,
            text=text,
            kind="token",
            now=self._clock(),
        )

    # ------------------------------------------------------------------ background work

    async def run_maintenance(self, interval: float) -> None:
        """Every ``interval`` seconds: query late payments, expire stale ones, retry vends.

        Never dies on an error: it is logged and the next round goes on.
        """
        while True:
            await asyncio.sleep(interval)
            try:
                await self.maintain()
            except Exception:
                _log.exception("payment maintenance round failed")

    async def maintain(self) -> None:
        """One maintenance round (see :meth:`run_maintenance`)."""
        vended: dict[int, _Made] = {}
        polled = await payments.poll_pending(
            self.core,
            self.providers,
            older_than=timedelta(seconds=10),
            on_vended=self._sms_with_vend(vended),
        )
        await payments.expire_payments(self.core, now=self._clock())
        retried = await payments.retry_paid_not_vended(
            self.core, now=self._clock(), on_vended=self._sms_with_vend(vended)
        )
        for payment in (*polled, *retried):
            await self._after(payment, vended)
        async with self.core.read_uow() as uow:
            unsent = await uow.payments.vended_without_token_sms(
                created_since=self._clock() - TOKEN_SMS_SWEEP
            )
        for payment in unsent:  # a vend stored without its SMS (by an older version, say)
            _log.warning("token SMS of vend %s re-queued", payment.vend_id)
            await self._queue_token_sms(payment)

    # ------------------------------------------------------------------ SMS

    async def resend_token(self, meter: str, vend_id: int, msisdn: str, *, language: str) -> str:
        """Queue vend ``vend_id``'s token SMS to ``msisdn`` again; the token (never re-vends)."""
        now = self._clock()
        resent = await queries.resend_token(
            self.core.uow,
            meter=meter,
            vend_id=vend_id,
            msisdn=msisdn,
            request_key=f"{msisdn}:{now:%Y%m%d%H%M}",
            render=lambda vend: token_sms(vend, language),
            now=now,
        )
        self._wake_outbox()
        return resent.token

    async def delivery_report(self, report: DeliveryReport) -> None:
        """Apply a provider's delivery report to the outbox."""
        await outbox.apply_delivery_report(
            self.core.uow,
            report.provider,
            report.provider_message_id,
            report.status,
            report.failure_reason,
            self._clock(),
        )


async def _language(uow: UnitOfWork, msisdn: str) -> str:
    """The language the phone chose (its profile, read in ``uow``); English by default."""
    profile = await uow.profiles.get(outbox.normalise_msisdn(msisdn))
    return (profile.language if profile else None) or "en"


def _started(payment_id: str, vend: VendResult) -> PaymentStarted:
    """The final screen's news of a vend: its first token and the units it carries."""
    return PaymentStarted(
        reference=payment_id, token=vend.tokens[0].token, units_tenths=vend.credit_tenths
    )


def _texted(payment: Payment) -> bool:
    """Whether the payment's vend gets a token SMS: not for the API (the token is in the answer).

    Nor for a payer whose number is not a phone (logged): queuing the SMS in the vend's
    transaction must never keep a paid customer from the token.
    """
    if payment.channel == "api":
        return False
    try:
        outbox.normalise_msisdn(payment.msisdn)
    except ValueError:
        _log.warning("vend %s: no token SMS, the payer's number is not a phone", payment.vend_id)
        return False
    return True


def _refusal(payment: Payment) -> str:
    """The refusal code shown for a failed payment: the provider's when we have a text for it."""
    if payment.status is PaymentStatus.FAILED and payment.reason in REFUSALS:
        return payment.reason
    return "payment-failed"


def token_sms(vend: Vend, language: str) -> str:
    """The token SMS of a stored vend in ``language`` (see :func:`token_params`)."""
    breakdown = vend.breakdown or {}
    credit = breakdown.get("credit_tenths", 0)
    return render_text(
        language,
        "sms.token",
        _token_params(
            vend.meter_number,
            vend.gross,
            credit if isinstance(credit, int) else 0,
            [t.token for t in vend.tokens],
        ),
    )


def token_params(result: VendResult) -> dict[str, str]:
    """The ``sms.token`` text's values for a vend result: meter, amount, units, tokens."""
    return _token_params(
        result.meter_number, result.gross, result.credit_tenths, [t.token for t in result.tokens]
    )


def _token_params(meter: str, gross: int, credit: int, tokens: list[str]) -> dict[str, str]:
    return {
        "meter": meter,
        "amount": money(gross),
        "units": tenths(credit),
        "token": " / ".join(token_groups(t) for t in tokens),
    }
