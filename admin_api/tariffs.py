"""Handlers of tariffs: list, one code with every version, create, add a version.

Lists show the newest version of each code unless ``all_versions``. A change never edits a
stored version: it adds the next one, which sales use from then on (each vend records the
version it used). Taxes (VAT), fixed and service charges, purchase limits and the Free Basic
Electricity policy are fields of the version. Audited with the version before and after.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

import sts
from admin_api.audit import audit
from admin_api.masterdata_common import core_of, page, translated
from admin_api.masterdata_models import TariffCreate, TariffQuery, TariffVersionCreate
from admin_api.problems import problem
from vending_core.domain.model import Block, ChargePeriod, FixedCharge, Tariff
from vending_core.service.masterdata import add_tariff_version, create_tariff

__all__ = ["add_tariff_routes", "tariff_view"]


def _decimal(value: Decimal) -> str:
    return str(value)


def tariff_view(tariff: Tariff) -> dict[str, Any]:
    """A tariff version as JSON (decimals as exact strings)."""
    charge = tariff.fixed_charge
    return {
        "code": tariff.code,
        "version": tariff.version,
        "name": tariff.name,
        "utility": tariff.utility.name.lower(),
        "blocks": [
            {"up_to_tenths": b.up_to_tenths, "rate": _decimal(b.rate)} for b in tariff.blocks
        ],
        "vat_rate": _decimal(tariff.vat_rate),
        "fixed_charge": None
        if charge is None
        else {"amount": charge.amount, "period": charge.period.value},
        "service_charge": tariff.service_charge,
        "min_purchase": tariff.min_purchase,
        "max_purchase": tariff.max_purchase,
        "fbe_monthly_tenths": tariff.fbe_monthly_tenths,
        "fbe_counts_toward_blocks": tariff.fbe_counts_toward_blocks,
    }


def _tariff(code: str, body: TariffVersionCreate) -> Tariff:
    charge = body.fixed_charge
    return Tariff(
        code=code,
        version=0,  # set by the use case
        name=body.name,
        utility=sts.Utility[body.utility.upper()],
        blocks=tuple(Block(up_to_tenths=b.up_to_tenths, rate=b.rate) for b in body.blocks),
        vat_rate=body.vat_rate,
        fixed_charge=None
        if charge is None
        else FixedCharge(amount=charge.amount, period=ChargePeriod(charge.period)),
        service_charge=body.service_charge,
        min_purchase=body.min_purchase,
        max_purchase=body.max_purchase,
        fbe_monthly_tenths=body.fbe_monthly_tenths,
        fbe_counts_toward_blocks=body.fbe_counts_toward_blocks,
    )


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /tariffs?code=&utility=&all_versions=&limit=&offset=``."""
    query = TariffQuery.model_validate(dict(request.query))
    utility = None if query.utility is None else sts.Utility[query.utility.upper()]
    async with core_of(request).read_uow() as uow:
        found = await uow.admin.list_tariffs(
            code=query.code,
            utility=utility,
            every_version=query.all_versions,
            limit=query.limit,
            offset=query.offset,
        )
    return page(map(tariff_view, found), query)


async def _get(request: web.Request) -> web.StreamResponse:
    """``GET /tariffs/{code}``: the current version and every version, oldest first."""
    code = request.match_info["code"]
    async with core_of(request).read_uow() as uow:
        versions = await uow.admin.tariff_versions(code)
    if not versions:
        return problem(404, "tariff-unknown", f"No tariff {code}.")
    views = [tariff_view(t) for t in versions]
    return web.json_response({"code": code, "current": views[-1], "versions": views})


@translated
async def _create(request: web.Request) -> web.StreamResponse:
    """``POST /tariffs``: 201 with version 1; 409 if the code exists."""
    body = TariffCreate.model_validate_json(await request.read())
    tariff = await create_tariff(core_of(request), _tariff(body.code, body))
    view = tariff_view(tariff)
    await audit(request, "tariff.create", "tariff", tariff.code, after=view)
    return web.json_response(view, status=201)


@translated
async def _add_version(request: web.Request) -> web.StreamResponse:
    """``POST /tariffs/{code}/versions``: 201 with the next version; older ones unchanged."""
    body = TariffVersionCreate.model_validate_json(await request.read())
    code = request.match_info["code"]
    before, after = await add_tariff_version(core_of(request), _tariff(code, body))
    view = tariff_view(after)
    await audit(request, "tariff.version", "tariff", code, before=tariff_view(before), after=view)
    return web.json_response(view, status=201)


def add_tariff_routes(app: web.Application) -> None:
    """Register the tariff routes (names as in ``PERMISSIONS``)."""
    app.router.add_get("/tariffs", _list, name="tariffs.list")
    app.router.add_post("/tariffs", _create, name="tariffs.create")
    app.router.add_get("/tariffs/{code}", _get, name="tariffs.get")
    app.router.add_post("/tariffs/{code}/versions", _add_version, name="tariffs.add_version")
