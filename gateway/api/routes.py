"""The handlers of ``/api/v1``: quotes, vends and advice, reprints, meters, balance, vouchers.

Every handler runs after :mod:`gateway.api.auth` accepted the request, so ``request[CLIENT]``
is the calling key. The key id is the idempotency namespace (``RequestContext.client_id``):
two clients never share request ids, and a client sees only its own vends. Vend responses
are the stored result's canonical JSON (``VendResult.to_json``), so a replay and the
last-response advice give the very same bytes; the ``Idempotent-Replayed: true`` header marks a
replay.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Final, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from gateway import keys
from gateway.api.context import CLIENT
from gateway.api.errors import invalid_request, vending_problem
from gateway.api.models import QuoteRequest, ReprintRequest, ReversalRequest, VendRequest
from gateway.api.openapi import document
from gateway.api.vouchers import redeem_voucher
from gateway.problems import problem
from vending_core.domain.errors import VendingError
from vending_core.service.api_clients import (
    ApiRefusal,
    client_vend,
    confirm_vend,
    last_response,
    reverse_for_client,
    vendor_balance,
)
from vending_core.service.core import Core, RequestContext
from vending_core.service.results import VendResult
from vending_core.service.vending import confirm_customer, quote, reprint, vend_credit

__all__ = ["add_api_routes", "refusals"]

CHANNEL: Final = "api"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
#: Letters, digits, dot, underscore, dash: internal request ids contain ':' and never clash.
_KEY_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,100}")
_JSON: Final = "application/json"
_Model = TypeVar("_Model", bound=BaseModel)


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Core refusals and invalid bodies as problem JSON (4xx, never a stack trace)."""
    try:
        return await handler(request)
    except (VendingError, ApiRefusal) as exc:
        return vending_problem(exc)
    except ValidationError as exc:
        return invalid_request(exc)


def _core(request: web.Request) -> Core:
    return request.config_dict[keys.CORE]


async def _body(request: web.Request, model: type[_Model]) -> _Model:
    return model.model_validate_json(await request.read())


def _json(data: object, status: int = 200) -> web.Response:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type=_JSON)


def _vend_response(result: VendResult, status: int) -> web.Response:
    response = web.Response(text=result.to_json(), status=status, content_type=_JSON)
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def _context(request: web.Request, request_id: str) -> RequestContext:
    client = request[CLIENT]
    return RequestContext(
        client_id=client.key_id,
        request_id=request_id,
        channel=CHANNEL,
        vendor_code=client.vendor_code,
    )


def _vend_id(request: web.Request) -> int:
    return int(request.match_info["vend_id"])  # the route only matches digits


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    return key if _KEY_RE.fullmatch(key) else None


def _key_missing() -> web.Response:
    return problem(
        400,
        "idempotency-key-missing",
        f"Send an {IDEMPOTENCY_HEADER} header of 1 to 100 letters, digits, '.', '_' or '-'.",
    )


async def create_quote(request: web.Request) -> web.StreamResponse:
    """``POST /quotes``: a trial vend with the customer and the full breakdown."""
    body = await _body(request, QuoteRequest)
    customer = await confirm_customer(_core(request), body.meter_number)
    breakdown = await quote(_core(request), body.meter_number, body.amount)
    return _json({"customer": asdict(customer), "breakdown": breakdown.to_dict()})


async def create_vend(request: web.Request) -> web.StreamResponse:
    """``POST /vends``: sell credit once per ``Idempotency-Key`` (201; a replay 200)."""
    key = _idempotency_key(request)
    if key is None:
        return _key_missing()
    body = await _body(request, VendRequest)
    result = await vend_credit(
        _core(request), _context(request, key), body.meter_number, body.amount
    )
    return _vend_response(result, 200 if result.replayed else 201)


async def voucher_redeem(request: web.Request) -> web.StreamResponse:
    """``POST /vouchers/redeem``: a scratch card pays a vend (see :mod:`gateway.api.vouchers`)."""
    key = _idempotency_key(request)
    if key is None:
        return _key_missing()
    return await redeem_voucher(request, key)


async def last_vend_response(request: web.Request) -> web.StreamResponse:
    """``GET /vends/last?idempotency_key=K``: the stored response, byte for byte."""
    key = request.query.get("idempotency_key", "")
    if not _KEY_RE.fullmatch(key):
        return problem(400, "idempotency-key-missing", "Give the idempotency_key to look up.")
    text = await last_response(_core(request), request[CLIENT].key_id, key)
    response = web.Response(text=text, content_type=_JSON)
    response.headers[REPLAYED_HEADER] = "true"
    return response


async def get_vend(request: web.Request) -> web.StreamResponse:
    """``GET /vends/{id}``: one of the client's vends with its current status."""
    result = await client_vend(_core(request), request[CLIENT].key_id, _vend_id(request))
    return _vend_response(result, 200)


async def confirm(request: web.Request) -> web.StreamResponse:
    """``POST /vends/{id}/confirm``: confirmation advice (after it, no reversal)."""
    result = await confirm_vend(_core(request), request[CLIENT].key_id, _vend_id(request))
    return _vend_response(result, 200)


async def reversal(request: web.Request) -> web.StreamResponse:
    """``POST /vends/{id}/reversal``: reversal advice; the float is refunded."""
    vend_id = _vend_id(request)
    body = await _body(request, ReversalRequest)
    request_id = _idempotency_key(request) or f"reversal:{vend_id}"
    ctx = _context(request, request_id)
    result = await reverse_for_client(_core(request), ctx, vend_id, reason=body.reason)
    return _vend_response(result, 200)


async def reprints(request: web.Request) -> web.StreamResponse:
    """``POST /reprints``: the meter's last vends, oldest first, with their stored tokens."""
    body = await _body(request, ReprintRequest)
    results = await reprint(_core(request), body.meter_number, limit=body.limit)
    return _json({"vends": [json.loads(result.to_json()) for result in results]})


async def meter(request: web.Request) -> web.StreamResponse:
    """``GET /meters/{number}``: confirm customer (owner, whether it can be sold to, limits)."""
    info = await confirm_customer(_core(request), request.match_info["number"])
    return _json(asdict(info))


async def balance(request: web.Request) -> web.StreamResponse:
    """``GET /vendor/balance``: the calling vendor's float (minor units)."""
    result = await vendor_balance(_core(request), request[CLIENT].vendor_code)
    return _json(asdict(result))


async def openapi(request: web.Request) -> web.StreamResponse:
    """``GET /openapi.json``: the OpenAPI 3.1 document (public)."""
    return _json(document())


def add_api_routes(app: web.Application) -> None:
    """Register the API's routes on the sub-application (names are metrics labels)."""
    router = app.router
    router.add_get("/openapi.json", openapi, name="api-openapi")
    router.add_post("/quotes", create_quote, name="api-quotes")
    router.add_post("/vends", create_vend, name="api-vends")
    router.add_get("/vends/last", last_vend_response, name="api-vends-last")
    router.add_get(r"/vends/{vend_id:\d{1,18}}", get_vend, name="api-vend")
    router.add_post(r"/vends/{vend_id:\d{1,18}}/confirm", confirm, name="api-vend-confirm")
    router.add_post(r"/vends/{vend_id:\d{1,18}}/reversal", reversal, name="api-vend-reversal")
    router.add_post("/reprints", reprints, name="api-reprints")
    router.add_get("/meters/{number}", meter, name="api-meter")
    router.add_get("/vendor/balance", balance, name="api-balance")
    router.add_post("/vouchers/redeem", voucher_redeem, name="api-voucher-redeem")
