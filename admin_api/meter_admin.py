"""Handlers of meter master data: install, assign / change tariff, replace; the meter's debts.

Listing, reading and (un)blocking meters are in :mod:`admin_api.operations`. Meters are
named by their number (or PAN) in the path, as there. Every change is audited with the
values before and after (meters and debts hold no secrets: key data are public STS
identifiers, the vending key itself is in the key store).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

import sts
from admin_api.audit import audit
from admin_api.masterdata_common import actor, core_of, page, translated
from admin_api.masterdata_models import (
    DebtCreate,
    DebtUpdate,
    MeterInstall,
    MeterKeyData,
    MeterReplace,
    MeterUpdate,
)
from admin_api.models import Page
from admin_api.problems import problem
from vending_core.domain.model import Debt, DebtMode, Meter
from vending_core.service.core import find_meter
from vending_core.service.masterdata_meters import (
    DebtChange,
    MeterChange,
    NewMeter,
    add_debt,
    change_meter,
    install_meter,
    replace_meter,
    update_debt,
)

__all__ = ["add_meter_admin_routes", "debt_view", "meter_view"]


def meter_view(meter: Meter) -> dict[str, Any]:
    """A meter's master data and status as JSON (counters left out)."""
    return {
        "id": meter.id,
        "number": meter.number,
        "pan": meter.pan,
        "utility": meter.utility.name.lower(),
        "sgc": meter.sgc,
        "ti": meter.ti,
        "krn": meter.krn,
        "kt": int(meter.kt),
        "ken": meter.ken,
        "ea": meter.ea,
        "dkga": meter.dkga,
        "base_date": meter.base_date,
        "tariff_code": meter.tariff_code,
        "customer_id": meter.customer_id,
        "status": meter.status.value,
        "blocked_reason": meter.blocked_reason,
        "fbe_registered": meter.fbe_registered,
        "installed_at": meter.installed_at.isoformat() if meter.installed_at else None,
    }


def debt_view(debt: Debt) -> dict[str, Any]:
    """A debt as JSON (the recovery value as an exact string)."""
    return {
        "id": debt.id,
        "meter_id": debt.meter_id,
        "description": debt.description,
        "outstanding": debt.outstanding,
        "mode": debt.mode.value,
        "value": str(debt.value),
        "taxed": debt.taxed,
        "created_at": debt.created_at.isoformat() if debt.created_at else None,
    }


def _new_meter(body: MeterKeyData) -> NewMeter:
    return NewMeter(
        number=body.number,
        sgc=body.sgc,
        ti=body.ti,
        krn=body.krn,
        ea=body.ea,
        dkga=body.dkga,
        kt=sts.KeyType(body.kt),
        ken=body.ken,
        base_date=body.base_date,
        utility=sts.Utility[body.utility.upper()],
    )


@translated
async def _install(request: web.Request) -> web.StreamResponse:
    """``POST /meters``: 201 with the new meter; 409 if the number is registered."""
    body = MeterInstall.model_validate_json(await request.read())
    meter = await install_meter(
        core_of(request),
        _new_meter(body),
        tariff_code=body.tariff_code,
        customer_id=body.customer_id,
        fbe_registered=body.fbe_registered,
        actor=actor(request),
    )
    view = meter_view(meter)
    await audit(request, "meter.install", "meter", meter.number, after=view)
    return web.json_response(view, status=201)


@translated
async def _update(request: web.Request) -> web.StreamResponse:
    """``PATCH /meters/{number}``: assign to a customer (null: none) and/or change tariff."""
    body = MeterUpdate.model_validate_json(await request.read())
    if not body.model_fields_set:
        return problem(400, "invalid-request", "Give customer_id and/or tariff_code.")
    change = MeterChange(
        assign="customer_id" in body.model_fields_set,
        customer_id=body.customer_id,
        tariff_code=body.tariff_code,
    )
    number = request.match_info["number"]
    before, after = await change_meter(core_of(request), number, change, actor=actor(request))
    views = meter_view(before), meter_view(after)
    await audit(request, "meter.update", "meter", after.number, before=views[0], after=views[1])
    return web.json_response(views[1])


@translated
async def _replace(request: web.Request) -> web.StreamResponse:
    """``POST /meters/{number}/replace``: 201 with the new meter; the old one is ``replaced``."""
    body = MeterReplace.model_validate_json(await request.read())
    old, gone, new = await replace_meter(
        core_of(request),
        request.match_info["number"],
        _new_meter(body.new_meter),
        reason=body.reason,
        actor=actor(request),
    )
    after = {**meter_view(gone), "replaced_by": new.number}
    await audit(request, "meter.replace", "meter", old.number, before=meter_view(old), after=after)
    await audit(request, "meter.install", "meter", new.number, after=meter_view(new))
    return web.json_response({"old_meter": after, "new_meter": meter_view(new)}, status=201)


async def _debts(request: web.Request) -> web.StreamResponse:
    """``GET /meters/{number}/debts?limit=&offset=``: every debt, also those paid off."""
    query = Page.model_validate(dict(request.query))
    async with core_of(request).read_uow() as uow:
        meter = await find_meter(uow, request.match_info["number"])
        found = await uow.admin.list_debts(meter.id or 0, limit=query.limit, offset=query.offset)
    return page(map(debt_view, found), query)


@translated
async def _add_debt(request: web.Request) -> web.StreamResponse:
    """``POST /meters/{number}/debts``: 201 with the debt."""
    body = DebtCreate.model_validate_json(await request.read())
    draft = Debt(**{**body.model_dump(), "mode": DebtMode(body.mode)})
    debt = await add_debt(core_of(request), request.match_info["number"], draft)
    view = debt_view(debt)
    await audit(request, "debt.create", "debt", debt.id, after=view)
    return web.json_response(view, status=201)


@translated
async def _update_debt(request: web.Request) -> web.StreamResponse:
    """``PATCH /debts/{debt_id}``: change a debt; ``outstanding: 0`` writes it off."""
    body = DebtUpdate.model_validate_json(await request.read())
    given = body.model_dump(exclude_none=True)
    if "mode" in given:
        given["mode"] = DebtMode(given["mode"])
    if "value" in given:
        given["value"] = Decimal(given["value"])
    debt_id = int(request.match_info["debt_id"])
    before, after = await update_debt(core_of(request), debt_id, DebtChange(**given))
    views = debt_view(before), debt_view(after)
    await audit(request, "debt.update", "debt", debt_id, before=views[0], after=views[1])
    return web.json_response(views[1])


def add_meter_admin_routes(app: web.Application) -> None:
    """Register the meter master-data and debt routes (names as in ``PERMISSIONS``)."""
    app.router.add_post("/meters", _install, name="meters.install")
    app.router.add_patch("/meters/{number}", _update, name="meters.update")
    app.router.add_post("/meters/{number}/replace", _replace, name="meters.replace")
    app.router.add_get("/meters/{number}/debts", _debts, name="debts.list")
    app.router.add_post("/meters/{number}/debts", _add_debt, name="debts.create")
    app.router.add_patch(r"/debts/{debt_id:\d{1,18}}", _update_debt, name="debts.update")
