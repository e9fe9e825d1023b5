"""Handlers of vendors (vending points): list, get, create, update, top-up, ledger.

A vendor's float starts at 0 and changes only through its append-only ledger: sales take from
it, reversals give back, top-ups add (``POST /vendors/{code}/top-ups``, one atomic
``VendorRepository.move``). A top-up is idempotent on its ``reference``: the same reference
again answers the first top-up (200) and moves nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from admin_api.audit import audit
from admin_api.masterdata_common import core_of, page, translated
from admin_api.masterdata_models import TopUpRequest, VendorCreate, VendorQuery, VendorUpdate
from admin_api.models import Page
from admin_api.problems import problem
from vending_core.domain.model import Vendor
from vending_core.domain.records import VendorEntry
from vending_core.service.masterdata import (
    VendorChange,
    create_vendor,
    top_up,
    update_vendor,
)

__all__ = ["add_vendor_routes", "vendor_view"]


def vendor_view(vendor: Vendor) -> dict[str, Any]:
    """A vendor as JSON: float ``balance``, ``credit_limit`` and what is ``available``."""
    return {
        "id": vendor.id,
        "code": vendor.code,
        "name": vendor.name,
        "channel": vendor.channel,
        "balance": vendor.balance,
        "credit_limit": vendor.credit_limit,
        "available": vendor.balance + vendor.credit_limit,
        "commission": str(vendor.commission),
        "allowed_sgcs": list(vendor.allowed_sgcs),
    }


def _entry_view(entry: VendorEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "kind": entry.kind,
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "vend_id": entry.vend_id,
    }


def _not_found(code: str) -> web.Response:
    return problem(404, "vendor-unknown", f"No vendor {code}.")


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /vendors?channel=&limit=&offset=``."""
    query = VendorQuery.model_validate(dict(request.query))
    async with core_of(request).read_uow() as uow:
        found = await uow.admin.list_vendors(
            channel=query.channel, limit=query.limit, offset=query.offset
        )
    return page(map(vendor_view, found), query)


async def _get(request: web.Request) -> web.StreamResponse:
    """``GET /vendors/{code}``."""
    code = request.match_info["code"]
    async with core_of(request).read_uow() as uow:
        vendor = await uow.vendors.get_by_code(code)
    return _not_found(code) if vendor is None else web.json_response(vendor_view(vendor))


@translated
async def _create(request: web.Request) -> web.StreamResponse:
    """``POST /vendors``: 201 with the vendor (balance 0); 409 if the code exists."""
    body = VendorCreate.model_validate_json(await request.read())
    draft = Vendor(**{**body.model_dump(), "allowed_sgcs": tuple(body.allowed_sgcs)})
    vendor = await create_vendor(core_of(request), draft)
    view = vendor_view(vendor)
    await audit(request, "vendor.create", "vendor", vendor.code, after=view)
    return web.json_response(view, status=201)


@translated
async def _update(request: web.Request) -> web.StreamResponse:
    """``PATCH /vendors/{code}``: name, credit limit, commission, allowed supply groups."""
    body = VendorUpdate.model_validate_json(await request.read())
    change = VendorChange(
        name=body.name,
        credit_limit=body.credit_limit,
        commission=None if body.commission is None else Decimal(body.commission),
        allowed_sgcs=None if body.allowed_sgcs is None else tuple(body.allowed_sgcs),
    )
    code = request.match_info["code"]
    before, after = await update_vendor(core_of(request), code, change)
    views = vendor_view(before), vendor_view(after)
    await audit(request, "vendor.update", "vendor", code, before=views[0], after=views[1])
    return web.json_response(views[1])


@translated
async def _top_up(request: web.Request) -> web.StreamResponse:
    """``POST /vendors/{code}/top-ups`` ``{"amount", "reference"}``: 201 (200 for a replay)."""
    body = TopUpRequest.model_validate_json(await request.read())
    code = request.match_info["code"]
    done = await top_up(core_of(request), code, body.amount, body.reference)
    view = {
        "vendor_code": done.vendor_code,
        "amount": done.amount,
        "reference": done.reference,
        "balance_before": done.balance_before,
        "balance_after": done.balance_after,
        "at": done.at,
        "replayed": done.replayed,
    }
    if not done.replayed:
        await audit(
            request,
            "vendor.top_up",
            "vendor",
            code,
            before={"balance": done.balance_before},
            after={
                "balance": done.balance_after,
                "amount": done.amount,
                "reference": done.reference,
            },
        )
    return web.json_response(view, status=200 if done.replayed else 201)


async def _entries(request: web.Request) -> web.StreamResponse:
    """``GET /vendors/{code}/entries?limit=&offset=``: the float ledger, oldest first."""
    query = Page.model_validate(dict(request.query))
    code = request.match_info["code"]
    async with core_of(request).read_uow() as uow:
        vendor = await uow.vendors.get_by_code(code)
        if vendor is None or vendor.id is None:
            return _not_found(code)
        found = await uow.admin.vendor_entries(vendor.id, limit=query.limit, offset=query.offset)
    return page(map(_entry_view, found), query)


def add_vendor_routes(app: web.Application) -> None:
    """Register the vendor routes (names as in ``PERMISSIONS``)."""
    app.router.add_get("/vendors", _list, name="vendors.list")
    app.router.add_post("/vendors", _create, name="vendors.create")
    app.router.add_get("/vendors/{code}", _get, name="vendors.get")
    app.router.add_patch("/vendors/{code}", _update, name="vendors.update")
    app.router.add_post("/vendors/{code}/top-ups", _top_up, name="vendors.top_up")
    app.router.add_get("/vendors/{code}/entries", _entries, name="vendors.entries")
