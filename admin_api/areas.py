"""A user whose operating area is a supply group works only on that group's meters.

A user's ``area`` is a vending point (a vendor code: POS sales sell from its float, shifts are
its shifts) or a supply group code (SGC). For an SGC area, below administrator, every request
that names a meter — ``{number}`` in the path, or ``meter_number`` in the JSON body — is
refused with 403 ``out-of-area`` unless the meter belongs to that supply group. Requests that
name no meter (lists, reports, a reversal by vend id, a debt by id) are not restricted by the
area; docs/admin.md says so. A meter that does not exist is left to the handler (404).
"""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler

import sts
from admin_api.context import ADMIN_CORE, USER
from admin_api.problems import problem
from sts.identifiers import check_sgc
from vending_core.domain.errors import VendingError
from vending_core.service.admin_records import AdminLevel
from vending_core.service.core import Core, find_meter

__all__ = ["area_of_meters"]


def _may_be_sgc(area: str | None) -> bool:
    """Whether ``area`` has the shape of a supply group code (sts.identifiers.check_sgc)."""
    if area is None:
        return False
    try:
        check_sgc(area)
    except sts.StsError:
        return False
    return True


async def _named_meter(request: web.Request) -> str | None:
    """The meter number the request names, if any (a body that is no JSON names none)."""
    number = request.match_info.get("number")
    if number is not None:
        return number
    if request.content_type != "application/json" or not request.can_read_body:
        return None
    try:
        body = json.loads(await request.read())  # aiohttp keeps the body for the handler
    except ValueError:
        return None
    meter = body.get("meter_number") if isinstance(body, dict) else None
    return meter if isinstance(meter, str) else None


async def _outside(core: Core, sgc: str, number: str) -> bool:
    """Whether meter ``number`` exists and belongs to another supply group than ``sgc``."""
    async with core.read_uow() as uow:
        if await uow.supply_groups.get(sgc) is None:
            return False  # the area is a vending point, not a supply group
        try:
            meter = await find_meter(uow, number)
        except VendingError:
            return False  # unknown or malformed: the handler answers
    return meter.sgc != sgc


@web.middleware
async def area_of_meters(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 ``out-of-area`` for a meter outside the caller's supply-group area."""
    user = request.get(USER)
    if user is None or not _may_be_sgc(user.area) or user.level >= AdminLevel.ADMINISTRATOR:
        return await handler(request)  # vending-point areas (DEMO-POS...) cost nothing here
    number = await _named_meter(request)
    if number is not None and await _outside(request.config_dict[ADMIN_CORE], user.area, number):
        return problem(
            403, "out-of-area", f"Meter {number} is outside your operating area ({user.area})."
        )
    return await handler(request)
