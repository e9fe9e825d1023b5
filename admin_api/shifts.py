"""Handlers of shifts: open and close a vending point's shift, list shifts, the shift report.

A shift is opened for the caller's vending point (their ``area``); the database keeps one open
shift per vending point (409 ``shift-already-open``). Operators open, close, list and report
on their own vending point's shifts only (403 otherwise); POS managers and above may close,
list and report on any vending point's. The report totals the vending point's vends made
while the shift was open, ``[opened_at, closed_at)`` (up to now while open), per operator:
credit sales and gross, free-basic issues and their energy (tenths), reversals and their
gross, and ``net`` = gross - reversed gross; plus the grand totals.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from admin_api.audit import audit
from admin_api.context import ADMIN_CORE, USER
from admin_api.ops_models import ShiftQuery
from admin_api.problems import problem
from vending_core.service.admin_records import AdminLevel, AdminUser
from vending_core.service.core import Core
from vending_core.service.shift_records import Shift, ShiftLine, ShiftStatus
from vending_core.service.shifts import (
    ShiftError,
    close_shift,
    get_shift,
    open_shift,
    shift_report,
)

__all__ = ["REPORT_COLUMNS", "add_shift_routes"]

_STATUS: Final = {
    "no-vending-point": 409,
    "shift-already-open": 409,
    "shift-unknown": 404,
    "shift-closed": 409,
}
#: The per-operator figures of the report (and of its totals), after ``operator``.
REPORT_COLUMNS: Final = (
    "sales",
    "gross",
    "free_issues",
    "free_tenths",
    "reversals",
    "reversed_gross",
    "net",
)


def _core(request: web.Request) -> Core:
    return request.config_dict[ADMIN_CORE]


def _view(shift: Shift) -> dict[str, Any]:
    closed = shift.closed_at
    return {
        "id": shift.id,
        "vendor_code": shift.vendor_code,
        "opened_by": shift.opened_by,
        "opened_at": shift.opened_at.isoformat(),
        "closed_by": shift.closed_by,
        "closed_at": None if closed is None else closed.isoformat(),
        "status": shift.status.value,
    }


def _line(line: ShiftLine) -> dict[str, Any]:
    return {
        "operator": line.operator,
        "sales": line.sales,
        "gross": line.gross,
        "free_issues": line.free_issues,
        "free_tenths": line.free_tenths,
        "reversals": line.reversals,
        "reversed_gross": line.reversed_gross,
        "net": line.gross - line.reversed_gross,
    }


def _may_see(user: AdminUser, vendor_code: str) -> bool:
    """POS managers and above: any vending point; operators: their own only."""
    return user.level >= AdminLevel.POS_MANAGER or user.area == vendor_code


def _refused(exc: ShiftError) -> web.Response:
    return problem(_STATUS.get(exc.code, 409), exc.code, exc.message)


def _forbidden(vendor_code: str) -> web.Response:
    detail = f"Only a POS manager or above may see vending point {vendor_code}'s shifts."
    return problem(403, "forbidden", detail)


async def _open(request: web.Request) -> web.StreamResponse:
    """``POST /shifts``: open a shift for the caller's vending point; 201 with the shift."""
    user = request[USER]
    try:
        shift = await open_shift(_core(request), user.area, by=user.username)
    except ShiftError as exc:
        return _refused(exc)
    await audit(request, "shift.open", "shift", shift.id, after=_view(shift))
    return web.json_response(_view(shift), status=201)


async def _visible(request: web.Request) -> Shift | web.Response:
    """The path's shift if the caller may see it, else the refusal."""
    try:
        shift = await get_shift(_core(request), int(request.match_info["shift_id"]))
    except ShiftError as exc:
        return _refused(exc)
    if not _may_see(request[USER], shift.vendor_code):
        return _forbidden(shift.vendor_code)
    return shift


async def _close(request: web.Request) -> web.StreamResponse:
    """``POST /shifts/{shift_id}/close``: close an open shift."""
    found = await _visible(request)
    if not isinstance(found, Shift):
        return found
    try:
        shift = await close_shift(_core(request), found.id or 0, by=request[USER].username)
    except ShiftError as exc:
        return _refused(exc)
    before = {"status": ShiftStatus.OPEN.value}
    await audit(request, "shift.close", "shift", shift.id, before=before, after=_view(shift))
    return web.json_response(_view(shift))


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /shifts?vendor_code=&status=&limit=&offset=``: newest first.

    Operators see their own vending point's (``vendor_code`` defaults to it).
    """
    query = ShiftQuery.model_validate(dict(request.query))
    user = request[USER]
    vendor_code = query.vendor_code
    if user.level < AdminLevel.POS_MANAGER:
        if user.area is None:
            return problem(409, "no-vending-point", "The user has no vending point.")
        vendor_code = vendor_code or user.area
        if vendor_code != user.area:
            return _forbidden(vendor_code)
    async with _core(request).read_uow() as uow:
        found = await uow.shifts.find(
            vendor_code=vendor_code,
            status=None if query.status is None else ShiftStatus(query.status),
            limit=query.limit,
            offset=query.offset,
        )
    items = [_view(shift) for shift in found]
    return web.json_response({"items": items, "limit": query.limit, "offset": query.offset})


async def _report(request: web.Request) -> web.StreamResponse:
    """``GET /shifts/{shift_id}/report``: totals per operator and grand totals."""
    found = await _visible(request)
    if not isinstance(found, Shift):
        return found
    report = await shift_report(_core(request), found)
    operators = [_line(line) for line in report.lines]
    totals = {name: sum(item[name] for item in operators) for name in REPORT_COLUMNS}
    return web.json_response(
        {
            "shift": _view(report.shift),
            "from": report.shift.opened_at.isoformat(),
            "to": report.until.isoformat(),
            "operators": operators,
            "totals": totals,
        }
    )


def add_shift_routes(app: web.Application) -> None:
    """Register the shift routes (names as in ``PERMISSIONS``)."""
    one = r"/shifts/{shift_id:\d{1,18}}"
    app.router.add_post("/shifts", _open, name="shifts.open")
    app.router.add_get("/shifts", _list, name="shifts.list")
    app.router.add_post(one + "/close", _close, name="shifts.close")
    app.router.add_get(one + "/report", _report, name="shifts.report")
