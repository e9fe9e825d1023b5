"""Paying for a purchase: record the intent, ask the provider, apply results, vend once.

The use cases (vending.md §4 "Mobile money pattern", §5 "Reliability rules"):

* :func:`start_purchase` validates the sale, records a PENDING intent in its own committed
  transaction *before* the provider is asked, then asks it. The same ``(client_id,
  request_id)`` returns the stored intent and never asks the provider again.
* :func:`apply_payment_result` is the one idempotent step for callbacks, status queries and
  in-process providers: it locks the payment row, applies the pure transition
  (:func:`vending_core.domain.payments.apply`) and, for a PAID payment, runs its one vend.
* :func:`retry_paid_not_vended`, :func:`poll_pending` and :func:`expire_payments` are the
  periodic jobs; :func:`payment_vend` gives the caller the stored vend to deliver (SMS).

Exactly one vend per payment: the vend goes through
:func:`~vending_core.service.vending.vend_credit` under the idempotency key (client
``"payment"``, request id = payment id), so any number of runs (replayed callbacks,
concurrent duplicates, retries after a crash) store one vend and replay it.

A paid purchase commits twice, in this order:

1. the provider's report: the payment becomes PAID (money taken is durable before any token
   is minted, and no lock is held across the provider);
2. the vend, in one unit of work: the idempotency claim, the meter's row lock, the tokens and
   the vend rows (``vend_credit``), then, through its ``within`` hook, the payment's row lock,
   PAID -> VENDED with the vend id and its "vend" event, then the caller's ``on_vended`` (the
   gateway queues the token SMS there). All of it commits together, or none of it.

Lock order in step 2: meter, then payment (no transaction locks a payment and then a meter).
When ``vend_credit`` replays the vend of an earlier or concurrent run instead (the hook does
not run), VENDED is recorded in a unit of work of its own unless it is already (only a vend
stored by an older version, which recorded VENDED separately, can lack it), and
``on_vended`` is not called: the caller delivers the stored vend itself. A refused vend
(meter blocked meanwhile...) or a failed one, a failing ``on_vended`` included, stores
nothing of the vend and leaves the payment PAID with the refusal code (``vend_error``: the
paid-not-vended queue), retried by :func:`retry_paid_not_vended`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from vending_core.domain.errors import VendingError
from vending_core.domain.payments import (
    Decision,
    Outcome,
    Payment,
    PaymentEvent,
    PaymentNotFound,
    PaymentStatus,
    Report,
    accept,
    apply,
    expire,
    new_payment,
    record_vend,
    record_vend_failure,
    refuse,
)
from vending_core.service.core import Core, RequestContext
from vending_core.service.payment_ports import (
    PaymentAccepted,
    PaymentError,
    PaymentProvider,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)
from vending_core.service.ports import UnitOfWork
from vending_core.service.results import VendResult
from vending_core.service.vending import quote, vend_credit

__all__ = [
    "PAYMENT_CLIENT_ID",
    "OnVended",
    "apply_payment_result",
    "expire_payments",
    "find_payment",
    "get_payment",
    "payment_vend",
    "poll_pending",
    "retry_paid_not_vended",
    "start_purchase",
]

#: The idempotency client id of the vends made for payments (request id: the payment id).
PAYMENT_CLIENT_ID: Final = "payment"
_LOG = logging.getLogger(__name__)

#: A caller's step in a payment's vend transaction, after the payment (passed VENDED) is
#: recorded there, with the vend's receipt: what it writes commits with the vend, or, if it
#: raises, nothing is stored and the payment stays PAID (retried).
OnVended = Callable[[UnitOfWork, Payment, VendResult], Awaitable[None]]


def _event(payment: Payment, kind: str, now: datetime, detail: str = "") -> PaymentEvent:
    return PaymentEvent(
        payment_id=payment.id, at=now, kind=kind, status=payment.status, detail=detail
    )


async def get_payment(core: Core, payment_id: str) -> Payment:
    """The payment with that id (PaymentNotFound otherwise)."""
    async with core.read_uow() as uow:
        payment = await uow.payments.get(payment_id)
    if payment is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    return payment


async def find_payment(core: Core, client_id: str, request_id: str) -> Payment | None:
    """The payment started by that purchase request, if any (a retried USSD hop)."""
    async with core.read_uow() as uow:
        return await uow.payments.get_by_request(client_id, request_id)


async def start_purchase(
    core: Core,
    provider: PaymentProvider,
    *,
    msisdn: str,
    meter: str,
    amount: int,
    channel: str,
    client_id: str,
    request_id: str,
    ttl: timedelta,
    now: datetime | None = None,
    secret: str | None = None,
    currency: str = "KES",
) -> Payment:
    """Record a PENDING intent for buying ``amount`` for ``meter``, then ask ``provider``.

    Raises the sale's VendingError (unknown or blocked meter, amount out of range, nothing
    to buy) before anything is stored. A refusal by the provider returns the payment FAILED
    (reason: the refusal's code); an unreachable provider leaves it PENDING (to be queried,
    or to expire). ``secret`` (a voucher PIN) goes to the provider only, never stored.
    """
    existing = await find_payment(core, client_id, request_id)
    if existing is not None:
        return existing
    await quote(core, meter, amount)  # validates meter and amount; nothing stored
    now = now or core.now()
    payment = new_payment(
        payment_id=uuid.uuid4().hex,
        provider=provider.name,
        msisdn=msisdn,
        meter_number=meter,
        amount=amount,
        currency=currency,
        channel=channel,
        client_id=client_id,
        request_id=request_id,
        now=now,
        expires_at=now + ttl,
    )
    async with core.uow() as uow:
        created = _event(payment, "created", now, f"via {channel}")
        if not await uow.payments.add_with_event(payment, created):
            found = await uow.payments.get_by_request(client_id, request_id)
            if found is None:  # pragma: no cover - a uuid4 collision
                raise VendingError("payment id collision; retry")
            return found  # a concurrent duplicate got there first and asks the provider
        await uow.commit()
    return await _ask(core, provider, payment, secret)


async def _ask(
    core: Core, provider: PaymentProvider, payment: Payment, secret: str | None
) -> Payment:
    request = PaymentRequest(
        payment_id=payment.id,
        msisdn=payment.msisdn,
        amount=payment.amount,
        currency=payment.currency,
        account_reference=payment.meter_number,
        secret=secret,
    )
    try:
        accepted: PaymentAccepted | PaymentError = await provider.start(request)
    except (PaymentRefused, PaymentUnavailable) as exc:
        accepted = exc
    async with core.uow() as uow:
        current = await _locked(uow, payment.id)
        now = core.now()
        if isinstance(accepted, PaymentAccepted):
            changed = accept(current, accepted.provider_reference, now)
            event = _event(changed, "accepted", now, accepted.provider_reference)
        elif isinstance(accepted, PaymentRefused):
            changed, _ = refuse(current, accepted.code, now)
            event = _event(changed, "refused", now, f"{accepted.code}: {accepted.message}")
        else:
            changed = current
            event = _event(changed, "unavailable", now, accepted.message)
        await _store(uow, current, changed, event)
        await uow.commit()
    return changed


async def _store(uow: UnitOfWork, current: Payment, changed: Payment, event: PaymentEvent) -> None:
    """Append ``event``, storing ``changed`` with it unless it is ``current`` unchanged."""
    if changed is current:
        await uow.payments.add_event(event)
    else:
        await uow.payments.update_with_event(changed, event)


async def _locked(uow: UnitOfWork, payment_id: str) -> Payment:
    payment = await uow.payments.get(payment_id, lock=True)
    if payment is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    return payment


async def _find_for(uow: UnitOfWork, result: ProviderResult) -> Payment:
    """The payment a result is about, locked.

    By ``(provider, provider_reference)``; failing that, by our id (``result.payment_id``,
    else the reference, for providers that use our id as their reference) when the intent
    does not know its reference yet: a report that overtook ``start`` returning.
    """
    payment = await uow.payments.get_by_provider_reference(
        result.provider, result.provider_reference, lock=True
    )
    if payment is None:
        payment = await uow.payments.get(result.payment_id or result.provider_reference, lock=True)
        if (
            payment is None
            or payment.provider != result.provider
            or payment.provider_reference not in (None, result.provider_reference)
        ):
            raise PaymentNotFound(
                f"no {result.provider} payment with reference {result.provider_reference}"
            )
    return payment


def _report(result: ProviderResult) -> Report:
    return Report(
        outcome=Outcome(result.outcome.value),
        amount=result.amount,
        receipt=result.receipt,
        reason=result.reason,
        raw=dict(result.raw),
    )


async def apply_payment_result(
    core: Core,
    result: ProviderResult,
    *,
    now: datetime | None = None,
    on_vended: OnVended | None = None,
) -> Payment:
    """Apply one provider report; vend once if the payment is PAID. Safe to repeat.

    Returns the payment as it stands after (VENDED with ``vend_id`` when the vend is
    stored). Raises PaymentNotFound for a report about no known payment. Every report is
    kept in the payment's history with its raw payload. ``on_vended`` runs in the vend's
    transaction when this call makes the vend (see the module docstring).
    """
    now = now or core.now()
    async with core.uow() as uow:
        current = await _find_for(uow, result)
        changed, decision = apply(current, _report(result), now)
        if changed.provider_reference is None:
            changed = accept(changed, result.provider_reference, now)
        report = PaymentEvent(
            payment_id=changed.id,
            at=now,
            kind="report",
            status=changed.status,
            outcome=result.outcome.value,
            amount=result.amount,
            receipt=result.receipt,
            detail=result.reason,
            raw=dict(result.raw),
        )
        await _store(uow, current, changed, report)
        await uow.commit()
    if decision is Decision.VEND:
        return await _vend(core, changed, on_vended)
    return changed


async def _vend(core: Core, payment: Payment, on_vended: OnVended | None = None) -> Payment:
    """Run the payment's one vend and record how it went (the payment stays PAID on error).

    A new vend records VENDED (and runs ``on_vended``) in the vend's own transaction; for a
    replayed one VENDED is recorded in a transaction of its own (idempotent: a payment VENDED
    with that vend already is left alone) and ``on_vended`` is not called.
    """
    ctx = RequestContext(
        client_id=PAYMENT_CLIENT_ID, request_id=payment.id, channel=payment.channel
    )
    recorded: list[Payment] = []

    async def record(uow: UnitOfWork, result: VendResult) -> None:
        vended = await _record_vend(uow, await _locked(uow, payment.id), result.vend_id, core)
        if on_vended is not None:
            await on_vended(uow, vended, result)
        recorded.append(vended)

    try:
        result = await vend_credit(core, ctx, payment.meter_number, payment.amount, within=record)
    except VendingError as exc:
        return await _vend_failed(core, payment.id, exc.code, exc.message)
    except Exception as exc:  # any other error is transient: the payment stays PAID, retried
        _LOG.warning("payment %s: vend failed, will retry: %r", payment.id, exc)
        return await _vend_failed(core, payment.id, "vend-transient", type(exc).__name__)
    if recorded:  # a new vend: VENDED committed with it
        return recorded[0]
    async with core.uow() as uow:  # a replay: the vend was stored by an earlier run
        current = await _locked(uow, payment.id)
        vended = await _record_vend(uow, current, result.vend_id, core)
        if vended is not current:
            await uow.commit()
    return vended


async def _record_vend(uow: UnitOfWork, current: Payment, vend_id: int, core: Core) -> Payment:
    """PAID -> VENDED with ``vend_id`` and its "vend" event, in ``uow`` (not committed)."""
    now = core.now()
    vended = record_vend(current, vend_id, now)
    if vended is not current:
        await uow.payments.update_with_event(vended, _event(vended, "vend", now, f"vend {vend_id}"))
    return vended


async def _vend_failed(core: Core, payment_id: str, code: str, message: str) -> Payment:
    async with core.uow() as uow:
        current = await _locked(uow, payment_id)
        if current.status is not PaymentStatus.PAID:
            return current  # a concurrent run stored the vend meanwhile
        now = core.now()
        failed = record_vend_failure(current, code, now)
        event = _event(failed, "vend_error", now, f"{code}: {message}")
        await uow.payments.update_with_event(failed, event)
        await uow.commit()
    return failed


def _retry_due(payment: Payment, now: datetime, backoff: timedelta) -> bool:
    """Whether a paid-not-vended payment is due: ``backoff * 2**(attempts-1)`` after the last."""
    if payment.vend_attempts == 0:
        return True
    wait = backoff * (1 << min(payment.vend_attempts - 1, 6))
    return payment.updated_at + wait <= now


async def retry_paid_not_vended(
    core: Core,
    *,
    backoff: timedelta = timedelta(seconds=30),
    now: datetime | None = None,
    limit: int = 100,
    on_vended: OnVended | None = None,
) -> list[Payment]:
    """Run the vend of every PAID payment that is due (exponential backoff per payment).

    ``on_vended``: as for :func:`apply_payment_result`.
    """
    now = now or core.now()
    async with core.uow() as uow:
        queue = await uow.payments.paid_not_vended(limit=limit)
    return [await _vend(core, p, on_vended) for p in queue if _retry_due(p, now, backoff)]


async def poll_pending(
    core: Core,
    providers: Mapping[str, PaymentProvider],
    *,
    older_than: timedelta,
    now: datetime | None = None,
    limit: int = 100,
    on_vended: OnVended | None = None,
) -> list[Payment]:
    """Query the provider of every PENDING payment older than ``older_than``; apply answers.

    Payments without a provider reference, of unknown providers, or whose provider cannot
    answer now are left for the next round (and for :func:`expire_payments`). ``on_vended``:
    as for :func:`apply_payment_result`.
    """
    now = now or core.now()
    async with core.uow() as uow:
        pending = await uow.payments.pending(created_before=now - older_than, limit=limit)
    applied = []
    for payment in pending:
        provider = providers.get(payment.provider)
        if provider is None or payment.provider_reference is None:
            continue
        try:
            result = await provider.query(payment.provider_reference)
        except PaymentError as exc:
            _LOG.info("payment %s: status query failed: %s", payment.id, exc.code)
            continue
        applied.append(await apply_payment_result(core, result, now=now, on_vended=on_vended))
    return applied


async def expire_payments(
    core: Core, *, now: datetime | None = None, limit: int = 100
) -> list[Payment]:
    """Move PENDING payments past ``expires_at`` to EXPIRED (a later PAID is a CONFLICT).

    Run :func:`poll_pending` first so that payments whose provider has an answer get it.
    """
    now = now or core.now()
    expired = []
    async with core.uow() as uow:
        for candidate in await uow.payments.expiring(now, limit=limit):
            current = await _locked(uow, candidate.id)
            changed, decision = expire(current, now)
            if decision is Decision.CLOSED:
                await uow.payments.update_with_event(changed, _event(changed, "expired", now))
                expired.append(changed)
        await uow.commit()
    return expired


async def payment_vend(core: Core, payment_id: str) -> VendResult | None:
    """The stored vend (receipt and tokens) of a vended payment; None before it is vended.

    The result is the one stored under the vend's idempotency key, marked ``replayed``: the
    same tokens every time, never new ones.
    """
    async with core.read_uow() as uow:
        payment = await uow.payments.get(payment_id)
        if payment is None:
            raise PaymentNotFound(f"no payment {payment_id}")
        if payment.vend_id is None:
            return None
        stored = await uow.requests.get(PAYMENT_CLIENT_ID, payment_id)
        if stored is not None and stored.response is not None:
            return VendResult.from_json(stored.response)
        vend = await uow.vends.get(payment.vend_id)
    return None if vend is None else VendResult.of_vend(vend, customer_name="", replayed=True)
