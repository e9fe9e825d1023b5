"""Handlers of meters, attended POS sales, reversals and the sales report.

A POS sale sells from the float of the user's vending point (their ``area``) with the
request's ``Idempotency-Key``; a repeated key replays the same receipt (same tokens). Every
operation appends an audit entry once it succeeded: the vend id and amounts, never the tokens.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any, Final

from aiohttp import web

from admin_api.audit import audit
from admin_api.context import ADMIN_CORE, USER
from admin_api.models import (
    BlockRequest,
    MeterQuery,
    QuoteRequest,
    ReprintRequest,
    ReversalRequest,
    SalesQuery,
)
from admin_api.problems import problem
from vending_core.domain.model import Meter
from vending_core.service.core import Core, RequestContext
from vending_core.service.operations import block_meter, reverse, unblock_meter
from vending_core.service.results import VendResult
from vending_core.service.vending import confirm_customer, quote, reprint, vend_credit

__all__ = ["SALES_COLUMNS", "add_operation_routes"]

SALES_COLUMNS: Final = ("key", "sales", "gross", "commission", "reversals", "reversed_gross")
_KEY_HEADER: Final = "Idempotency-Key"


def _core(request: web.Request) -> Core:
    return request.config_dict[ADMIN_CORE]


def _context(request: web.Request, request_id: str) -> RequestContext:
    user = request[USER]
    return RequestContext(
        client_id=f"admin:{user.id}",
        request_id=request_id,
        channel="pos",
        vendor_code=user.area,
        operator=user.username,
    )


def _receipt(result: VendResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.to_json())
    return data


def _summary(result: VendResult) -> dict[str, Any]:
    """What the audit log keeps of a vend (no tokens)."""
    return {
        "vend_id": result.vend_id,
        "meter": result.meter_number,
        "gross": result.gross,
        "status": result.status.value,
    }


def _meter_view(meter: Meter) -> dict[str, Any]:
    last = meter.last_purchase_at
    return {
        "id": meter.id,
        "number": meter.number,
        "sgc": meter.sgc,
        "ti": meter.ti,
        "krn": meter.krn,
        "ea": meter.ea,
        "tariff_code": meter.tariff_code,
        "customer_id": meter.customer_id,
        "status": meter.status.value,
        "blocked_reason": meter.blocked_reason,
        "last_purchase_at": last.isoformat() if last else None,
    }


async def _meters(request: web.Request) -> web.StreamResponse:
    """``GET /meters?sgc=&status=&customer_id=&limit=&offset=``."""
    query = MeterQuery.model_validate(dict(request.query))
    async with _core(request).uow() as uow:
        found = await uow.admin.list_meters(
            sgc=query.sgc,
            status=query.status,
            customer_id=query.customer_id,
            limit=query.limit,
            offset=query.offset,
        )
    items = [_meter_view(m) for m in found]
    return web.json_response({"items": items, "limit": query.limit, "offset": query.offset})


async def _meter(request: web.Request) -> web.StreamResponse:
    """``GET /meters/{number}``: owner, whether it can be sold to, limits."""
    info = await confirm_customer(_core(request), request.match_info["number"])
    return web.json_response(asdict(info))


async def _set_blocked(request: web.Request, *, blocked: bool) -> web.StreamResponse:
    number = request.match_info["number"]
    body = BlockRequest.model_validate_json(await request.read())
    change = block_meter if blocked else unblock_meter
    await change(_core(request), number, reason=body.reason, actor=request[USER].username)
    action = "meter.block" if blocked else "meter.unblock"
    before, after = ("active", "blocked") if blocked else ("blocked", "active")
    await audit(
        request,
        action,
        "meter",
        number,
        before={"status": before},
        after={"status": after, "reason": body.reason},
    )
    return web.json_response({"meter_number": number, "status": after})


async def _block(request: web.Request) -> web.StreamResponse:
    """``POST /meters/{number}/block``: stop sales to the meter."""
    return await _set_blocked(request, blocked=True)


async def _unblock(request: web.Request) -> web.StreamResponse:
    """``POST /meters/{number}/unblock``: allow sales again."""
    return await _set_blocked(request, blocked=False)


async def _quote(request: web.Request) -> web.StreamResponse:
    """``POST /pos/quotes``: the split of an amount; nothing is stored."""
    body = QuoteRequest.model_validate_json(await request.read())
    breakdown = await quote(_core(request), body.meter_number, body.amount)
    return web.json_response(breakdown.to_dict())


async def _vend(request: web.Request) -> web.StreamResponse:
    """``POST /pos/vends``: sell from the user's vending point; 201 with the receipt."""
    key = request.headers.get(_KEY_HEADER, "")
    if not 1 <= len(key) <= 100:  # noqa: PLR2004 - the header's documented length
        return problem(400, "idempotency-key-required", f"Send an {_KEY_HEADER} header.")
    if request[USER].area is None:
        return problem(409, "no-vending-point", "The user has no vending point to sell from.")
    body = QuoteRequest.model_validate_json(await request.read())
    ctx = _context(request, key)
    result = await vend_credit(_core(request), ctx, body.meter_number, body.amount)
    if not result.replayed:
        await audit(request, "pos.vend", "vend", result.vend_id, after=_summary(result))
    return web.json_response(_receipt(result), status=200 if result.replayed else 201)


async def _reprint(request: web.Request) -> web.StreamResponse:
    """``POST /pos/reprints``: the meter's last vends with their stored tokens."""
    body = ReprintRequest.model_validate_json(await request.read())
    results = await reprint(_core(request), body.meter_number)
    ids = [r.vend_id for r in results]
    await audit(request, "pos.reprint", "meter", body.meter_number, after={"vend_ids": ids})
    return web.json_response({"vends": [_receipt(r) for r in results]})


async def _reverse(request: web.Request) -> web.StreamResponse:
    """``POST /pos/reversals``: reverse a credit vend (reason required); float refunded."""
    body = ReversalRequest.model_validate_json(await request.read())
    ctx = _context(request, f"reversal:{body.vend_id}")
    user = request[USER].username
    result = await reverse(
        _core(request), ctx, body.vend_id, reason=body.reason, authorised_by=user
    )
    await audit(
        request,
        "pos.reverse",
        "vend",
        body.vend_id,
        before={"status": "completed"},
        after={**_summary(result), "reason": body.reason},
    )
    return web.json_response(_receipt(result))


async def _sales(request: web.Request) -> web.StreamResponse:
    """``GET /reports/sales?from=&to=&by=day|channel|vendor&format=json|csv``."""
    query = SalesQuery.model_validate(dict(request.query))
    if query.end <= query.start:
        return problem(400, "invalid-period", "'to' must be after 'from'.")
    async with _core(request).uow() as uow:
        lines = await uow.admin.sales_report(query.start, query.end, query.by)
    rows = [[getattr(line, name) for name in SALES_COLUMNS] for line in lines]
    if query.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(SALES_COLUMNS)
        writer.writerows(rows)
        return web.Response(text=out.getvalue(), content_type="text/csv")
    items = [dict(zip(SALES_COLUMNS, row, strict=True)) for row in rows]
    totals = {name: sum(item[name] for item in items) for name in SALES_COLUMNS[1:]}
    period = {"from": query.start.isoformat(), "to": query.end.isoformat(), "by": query.by}
    return web.json_response({**period, "items": items, "totals": totals})


def add_operation_routes(app: web.Application) -> None:
    """Register the meter, POS and report routes (names as in ``PERMISSIONS``)."""
    app.router.add_get("/meters", _meters, name="meters.list")
    app.router.add_get("/meters/{number}", _meter, name="meters.get")
    app.router.add_post("/meters/{number}/block", _block, name="meters.block")
    app.router.add_post("/meters/{number}/unblock", _unblock, name="meters.unblock")
    app.router.add_post("/pos/quotes", _quote, name="pos.quote")
    app.router.add_post("/pos/vends", _vend, name="pos.vend")
    app.router.add_post("/pos/reprints", _reprint, name="pos.reprint")
    app.router.add_post("/pos/reversals", _reverse, name="pos.reverse")
    app.router.add_get("/reports/sales", _sales, name="reports.sales")
