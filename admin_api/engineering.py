"""Handlers of engineering tokens and key changes (SMS managers and above).

Both issue tokens, so both are idempotent like POS sales: the ``Idempotency-Key`` header
(1-100 characters) is required, the client id is ``admin:<user id>``, and a repeated key
replays the stored receipt (200, the same tokens) instead of issuing again. The vends are
recorded with channel ``admin``, no vending point, and the user as operator. The audit entry
(written once the operation succeeded, not on a replay) holds the vend id, the meter and what
was done, never the token digits.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web

from admin_api.audit import audit
from admin_api.context import ADMIN_CORE, USER
from admin_api.ops_models import EngineeringRequest, KeyChangeRequest
from admin_api.problems import problem
from vending_core.domain.model import Meter
from vending_core.service.core import Core, RequestContext, find_meter
from vending_core.service.operations import EngineeringKind, change_key, issue_engineering_token
from vending_core.service.results import VendResult

__all__ = ["add_engineering_routes"]

_KEY_HEADER: Final = "Idempotency-Key"
_MAX_KEY: Final = 100


def _core(request: web.Request) -> Core:
    return request.config_dict[ADMIN_CORE]


def _context(request: web.Request, key: str) -> RequestContext:
    user = request[USER]
    return RequestContext(
        client_id=f"admin:{user.id}", request_id=key, channel="admin", operator=user.username
    )


def _key(request: web.Request) -> str | None:
    key = request.headers.get(_KEY_HEADER, "")
    return key if 1 <= len(key) <= _MAX_KEY else None


def _no_key() -> web.Response:
    return problem(400, "idempotency-key-required", f"Send an {_KEY_HEADER} header.")


def _answer(result: VendResult) -> web.Response:
    receipt: dict[str, Any] = json.loads(result.to_json())
    return web.json_response(receipt, status=200 if result.replayed else 201)


def _key_data(meter: Meter) -> dict[str, Any]:
    return {"sgc": meter.sgc, "krn": meter.krn, "ti": meter.ti, "base_date": meter.base_date}


async def _engineering(request: web.Request) -> web.StreamResponse:
    """``POST /engineering/tokens``: one engineering token; 201 with the receipt."""
    key = _key(request)
    if key is None:
        return _no_key()
    body = EngineeringRequest.model_validate_json(await request.read())
    kind = EngineeringKind(body.kind)
    result = await issue_engineering_token(
        _core(request), _context(request, key), body.meter_number, kind, value=body.value
    )
    if not result.replayed:
        (token,) = result.tokens
        after = {
            "vend_id": result.vend_id,
            "meter": result.meter_number,
            "kind": kind.value,
            "value": body.value,
            "tid": token.tid,
        }
        await audit(request, "engineering.token", "meter", result.meter_number, after=after)
    return _answer(result)


async def _meter(core: Core, number: str, ctx: RequestContext) -> tuple[Meter, bool]:
    """The meter as stored now, and whether the idempotency key was used already."""
    async with core.read_uow() as uow:
        used = await uow.requests.get(ctx.client_id, ctx.request_id) is not None
        return await find_meter(uow, number), used


async def _revision_refused(core: Core, sgc: str, krn: int) -> web.Response | None:
    """409 when ``krn`` is not the supply group's current key revision (what KCTs use)."""
    async with core.read_uow() as uow:
        group = await uow.supply_groups.get(sgc)
    if group is None or group.key_revision == krn:
        return None  # an unknown group is refused by the key change itself
    detail = f"Supply group {sgc} is at key revision {group.key_revision}, not {krn}."
    return problem(409, "key-revision-not-current", detail)


async def _key_change(request: web.Request) -> web.StreamResponse:
    """``POST /meters/{number}/key-change``: the key change token set; 201 with the receipt."""
    key = _key(request)
    if key is None:
        return _no_key()
    body = KeyChangeRequest.model_validate_json(await request.read())
    core, ctx, number = _core(request), _context(request, key), request.match_info["number"]
    before, used = await _meter(core, number, ctx)
    if body.to_krn is not None and not used:  # a replay answers what was issued then
        refused = await _revision_refused(core, body.to_sgc or before.sgc, body.to_krn)
        if refused is not None:
            return refused
    result = await change_key(
        core, ctx, number, sgc=body.to_sgc, ti=body.to_ti, base_date=body.to_base_date
    )
    if not result.replayed:
        after, _ = await _meter(core, number, ctx)
        change = {"vend_id": result.vend_id, "tokens": len(result.tokens), **_key_data(after)}
        await audit(
            request,
            "meter.key_change",
            "meter",
            result.meter_number,
            before=_key_data(before),
            after=change,
        )
    return _answer(result)


def add_engineering_routes(app: web.Application) -> None:
    """Register the engineering-token and key-change routes (names as in ``PERMISSIONS``)."""
    app.router.add_post("/engineering/tokens", _engineering, name="engineering.token")
    app.router.add_post("/meters/{number}/key-change", _key_change, name="meters.key_change")
