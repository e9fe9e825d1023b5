"""``POST /vouchers/redeem``: a scratch card pays for a vend through the partner API.

The card's face value is the amount; the vendor's float is not touched (the card was paid
for when it was sold). The flow is the phone channels' voucher purchase
(:func:`vending_core.service.payments.start_purchase` with the voucher provider), with three
API twists:

* Idempotent on the ``Idempotency-Key``: the payment intent is stored under
  ``(client key id, "voucher:" + key)``, so a retry finds it and replays the stored vend
  (200, ``Idempotent-Replayed: true``) without redeeming again; the same key with another
  meter or card is ``idempotency-conflict`` (422).
* The lockout against PIN guessing counts per API client key (the provider's "msisdn" is a
  20-character tag derived from the key id), so one bank's terminals cannot lock out another.
* Refusals are problem JSON with stable codes: ``voucher-invalid`` (422), ``voucher-used``
  (409), ``voucher-locked`` (429); a vend still in progress is ``duplicate-in-flight`` (409,
  retry with the same key).

The PIN is never logged, stored or returned; only its salted hash is looked up.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Final

from aiohttp import web

from gateway import keys
from gateway.api.context import CLIENT, VOUCHER_SALT
from gateway.api.models import VoucherRedeemRequest
from gateway.problems import problem
from vending_core.adapters.payments_voucher import VoucherProvider, pin_hash
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.service import payments
from vending_core.service.core import Core
from vending_core.service.payment_ports import PaymentRefused, ProviderResult

__all__ = ["VOUCHER_STATUS", "lockout_tag", "redeem_voucher"]

#: HTTP status of each voucher refusal code.
VOUCHER_STATUS: Final = {
    "voucher-invalid": 422,
    "voucher-used": 409,
    "voucher-locked": 429,
    "voucher-amount": 422,
}
_CHANNEL: Final = "api"
_REQUEST_PREFIX: Final = "voucher:"
_TTL: Final = timedelta(minutes=10)  #: a stuck intent expires (the card is then queried)
_FAILED: Final = frozenset(
    {PaymentStatus.FAILED, PaymentStatus.ABANDONED, PaymentStatus.EXPIRED, PaymentStatus.CONFLICT}
)


def lockout_tag(key_id: str) -> str:
    """The 20-character stand-in for an msisdn under which an API key's PIN tries count."""
    return "api:" + hashlib.sha256(key_id.encode()).hexdigest()[:16]


def _provider(request: web.Request, core: Core) -> VoucherProvider:
    """The voucher provider for this request; its PAID report vends at once (no SMS)."""

    async def deliver(result: ProviderResult) -> None:
        await payments.apply_payment_result(core, result)

    return VoucherProvider(core.uow, request.app[VOUCHER_SALT], deliver, clock=core.now)


def _refused(code: str, detail: str) -> web.Response:
    return problem(VOUCHER_STATUS.get(code, 422), code, detail)


async def _vend_response(core: Core, payment: Payment, *, replayed: bool) -> web.Response:
    """The payment's stored vend as ``POST /vends`` answers it, or the problem why not."""
    if payment.status in _FAILED:
        code = payment.reason if payment.reason in VOUCHER_STATUS else "voucher-invalid"
        return _refused(code, "The voucher PIN is not valid or was used.")
    result = await payments.payment_vend(core, payment.id)
    if result is None:
        return problem(
            409, "duplicate-in-flight", "The redemption is in progress; retry with the same key."
        )
    response = web.Response(
        text=result.to_json(), status=200 if replayed else 201, content_type="application/json"
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def _same_request(
    request: web.Request, core: Core, payment: Payment, body: VoucherRedeemRequest
) -> bool:
    """Whether a retry under a stored key asks for the same meter with the same card."""
    if payment.meter_number != body.meter_number:
        return False
    async with core.uow() as uow:
        voucher = await uow.vouchers.get_by_payment(payment.id)
    # Before the card is redeemed (a concurrent copy still running) only the meter is known.
    return voucher is None or voucher.pin_hash == pin_hash(body.pin, request.app[VOUCHER_SALT])


async def _replay(
    request: web.Request, core: Core, payment: Payment, body: VoucherRedeemRequest
) -> web.Response:
    if not await _same_request(request, core, payment, body):
        return problem(
            422,
            "idempotency-conflict",
            "This Idempotency-Key was used for another meter or card; use a new key.",
        )
    return await _vend_response(core, payment, replayed=True)


async def redeem_voucher(request: web.Request, key: str) -> web.StreamResponse:
    """Redeem the body's PIN for its meter under idempotency ``key`` (already validated)."""
    body = VoucherRedeemRequest.model_validate_json(await request.read())
    core = request.config_dict[keys.CORE]
    client = request[CLIENT]
    request_id = _REQUEST_PREFIX + key
    existing = await payments.find_payment(core, client.key_id, request_id)
    if existing is not None:
        return await _replay(request, core, existing, body)
    provider = _provider(request, core)
    tag = lockout_tag(client.key_id)
    try:
        amount = await provider.face_value(tag, body.pin)
    except PaymentRefused as exc:
        # A concurrent copy of this very request may have redeemed the card meanwhile.
        existing = await payments.find_payment(core, client.key_id, request_id)
        if existing is not None:
            return await _replay(request, core, existing, body)
        return _refused(exc.code, exc.message)
    payment = await payments.start_purchase(
        core,
        provider,
        msisdn=tag,
        meter=body.meter_number,
        amount=amount,
        channel=_CHANNEL,
        client_id=client.key_id,
        request_id=request_id,
        ttl=_TTL,
        secret=body.pin,
        currency=request.config_dict[keys.SETTINGS].gateway.currency,
    )
    return await _vend_response(core, payment, replayed=False)
