"""The admin sub-application factory (mounted at ``/admin/v1`` by ``gateway.app``)."""

from __future__ import annotations

from aiohttp import web

from admin_api.areas import area_of_meters
from admin_api.audit import list_audit
from admin_api.auth import authorise
from admin_api.customers import add_customer_routes
from admin_api.engineering import add_engineering_routes
from admin_api.maintenance import add_maintenance_routes
from admin_api.meter_admin import add_meter_admin_routes
from admin_api.openapi import document
from admin_api.operations import add_operation_routes
from admin_api.problems import refusals
from admin_api.reports import add_report_routes
from admin_api.shifts import add_shift_routes
from admin_api.supply_groups import add_supply_group_routes
from admin_api.tariffs import add_tariff_routes
from admin_api.users import add_user_routes
from admin_api.vendors import add_vendor_routes
from admin_api.vouchers import add_voucher_routes

__all__ = ["create_admin_app"]


async def _openapi(request: web.Request) -> web.StreamResponse:
    """``GET /openapi.json``: the OpenAPI 3.1 document (public)."""
    return web.json_response(document())


def create_admin_app() -> web.Application:
    """The ``/admin/v1`` sub-application (the parent app supplies ``ADMIN_CORE``)."""
    app = web.Application(middlewares=[authorise, area_of_meters, refusals])
    app.router.add_get("/openapi.json", _openapi, name="openapi")
    add_user_routes(app)
    add_customer_routes(app)
    add_operation_routes(app)
    add_report_routes(app)
    add_meter_admin_routes(app)
    add_tariff_routes(app)
    add_supply_group_routes(app)
    add_vendor_routes(app)
    add_engineering_routes(app)
    add_maintenance_routes(app)
    add_shift_routes(app)
    app.router.add_get("/audit", list_audit, name="audit.list")
    add_voucher_routes(app)
    return app
