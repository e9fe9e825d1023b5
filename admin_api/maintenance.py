"""Handlers of maintenance requests: open and list (operators), assign and resolve (POS managers).

A request moves ``open -> assigned -> resolved`` (a request may be reassigned while it is
assigned); any other move is 409 ``maintenance-transition`` and changes nothing (the table is
:data:`vending_core.service.maintenance.TRANSITIONS`). Every change is audited with the
request's status, engineer and solution before and after (no secrets in them).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from admin_api.audit import audit
from admin_api.context import ADMIN_CORE, USER
from admin_api.ops_models import (
    MaintenanceAssign,
    MaintenanceOpen,
    MaintenanceQuery,
    MaintenanceResolve,
)
from admin_api.problems import problem
from vending_core.domain.records import MaintenanceRequest, MaintenanceStatus
from vending_core.service.core import Core, find_meter
from vending_core.service.maintenance import (
    MaintenanceError,
    assign_engineer,
    resolve_request,
)
from vending_core.service.operations import record_maintenance_request
from vending_core.service.ports import UnitOfWork

__all__ = ["add_maintenance_routes"]

_STATUS: Final = {"maintenance-unknown": 404, "maintenance-transition": 409}


def _core(request: web.Request) -> Core:
    return request.config_dict[ADMIN_CORE]


def _view(item: MaintenanceRequest, meter_number: str) -> dict[str, Any]:
    resolved = item.resolved_at
    return {
        "id": item.id,
        "meter_number": meter_number,
        "description": item.description,
        "reported_by": item.reported_by,
        "opened_at": item.opened_at.isoformat(),
        "status": item.status.value,
        "engineer": item.engineer,
        "solution": item.solution,
        "resolved_at": None if resolved is None else resolved.isoformat(),
    }


def _state(item: MaintenanceRequest) -> dict[str, Any]:
    """What the audit log keeps of a request's state."""
    return {"status": item.status.value, "engineer": item.engineer, "solution": item.solution}


async def _views(uow: UnitOfWork, items: list[MaintenanceRequest]) -> list[dict[str, Any]]:
    numbers: dict[int, str] = {}
    for meter_id in {item.meter_id for item in items}:
        meter = await uow.meters.get(meter_id)
        numbers[meter_id] = "" if meter is None else meter.number
    return [_view(item, numbers[item.meter_id]) for item in items]


async def _open(request: web.Request) -> web.StreamResponse:
    """``POST /maintenance``: report a fault of a meter; 201 with the new request."""
    body = MaintenanceOpen.model_validate_json(await request.read())
    core = _core(request)
    reporter = request[USER].username
    new_id = await record_maintenance_request(
        core, body.meter_number, body.description, reported_by=reporter
    )
    async with core.read_uow() as uow:
        item = await uow.maintenance.get(new_id)
        if item is None:  # pragma: no cover - committed just before
            raise RuntimeError(f"maintenance request {new_id} vanished")
        (view,) = await _views(uow, [item])
    await audit(request, "maintenance.open", "maintenance", new_id, after=view)
    return web.json_response(view, status=201)


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /maintenance?status=&meter=&engineer=&limit=&offset=``: oldest first."""
    query = MaintenanceQuery.model_validate(dict(request.query))
    async with _core(request).read_uow() as uow:
        meter_id = None
        if query.meter is not None:
            meter_id = (await find_meter(uow, query.meter)).id
        items = await uow.maintenance.find(
            status=None if query.status is None else MaintenanceStatus(query.status),
            meter_id=meter_id,
            engineer=query.engineer,
            limit=query.limit,
            offset=query.offset,
        )
        views = await _views(uow, items)
    return web.json_response({"items": views, "limit": query.limit, "offset": query.offset})


async def _changed(
    request: web.Request, action: str, before: MaintenanceRequest, after: MaintenanceRequest
) -> web.Response:
    async with _core(request).read_uow() as uow:
        (view,) = await _views(uow, [after])
    await audit(
        request, action, "maintenance", after.id, before=_state(before), after=_state(after)
    )
    return web.json_response(view)


def _refused(exc: MaintenanceError) -> web.Response:
    return problem(_STATUS.get(exc.code, 409), exc.code, exc.message)


async def _assign(request: web.Request) -> web.StreamResponse:
    """``POST /maintenance/{maintenance_id}/assign``: an engineer takes the request."""
    request_id = int(request.match_info["maintenance_id"])
    body = MaintenanceAssign.model_validate_json(await request.read())
    try:
        before, after = await assign_engineer(_core(request), request_id, body.engineer)
    except MaintenanceError as exc:
        return _refused(exc)
    return await _changed(request, "maintenance.assign", before, after)


async def _resolve(request: web.Request) -> web.StreamResponse:
    """``POST /maintenance/{maintenance_id}/resolve``: resolved, with what was done."""
    request_id = int(request.match_info["maintenance_id"])
    body = MaintenanceResolve.model_validate_json(await request.read())
    try:
        before, after = await resolve_request(_core(request), request_id, body.solution)
    except MaintenanceError as exc:
        return _refused(exc)
    return await _changed(request, "maintenance.resolve", before, after)


def add_maintenance_routes(app: web.Application) -> None:
    """Register the maintenance routes (names as in ``PERMISSIONS``)."""
    one = r"/maintenance/{maintenance_id:\d{1,18}}"
    app.router.add_post("/maintenance", _open, name="maintenance.open")
    app.router.add_get("/maintenance", _list, name="maintenance.list")
    app.router.add_post(one + "/assign", _assign, name="maintenance.assign")
    app.router.add_post(one + "/resolve", _resolve, name="maintenance.resolve")
