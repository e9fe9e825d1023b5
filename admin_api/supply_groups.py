"""Handlers of supply groups and their vending keys.

``PUT /supply-groups/{sgc}/keys/{krn}`` is write-only: the key goes to the core's encrypted
key store and is never returned; the answer and the audit entry say only that revision
``krn`` of the group now has a key. A revision's key is never replaced (409): tokens issued
with it must keep working; a new key is a new key revision.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin_api.audit import audit
from admin_api.masterdata_common import core_of, page, translated
from admin_api.masterdata_models import SupplyGroupCreate, VendingKeyUpload
from admin_api.models import Page
from admin_api.problems import problem
from vending_core.domain.model import SupplyGroup
from vending_core.service.core import key_ref_for
from vending_core.service.masterdata import create_supply_group, store_vending_key

__all__ = ["add_supply_group_routes"]


def _view(group: SupplyGroup) -> dict[str, Any]:
    return {
        "sgc": group.sgc,
        "name": group.name,
        "dkga": group.dkga,
        "key_revision": group.key_revision,
        "base_date": group.base_date,
        "key_ref": group.key_ref,
    }


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /supply-groups?limit=&offset=``."""
    query = Page.model_validate(dict(request.query))
    async with core_of(request).read_uow() as uow:
        found = await uow.admin.list_supply_groups(limit=query.limit, offset=query.offset)
    return page(map(_view, found), query)


async def _get(request: web.Request) -> web.StreamResponse:
    """``GET /supply-groups/{sgc}``: with whether its current revision has a key stored."""
    sgc = request.match_info["sgc"]
    core = core_of(request)
    async with core.read_uow() as uow:
        group = await uow.supply_groups.get(sgc)
    if group is None:
        return problem(404, "supply-group-unknown", f"No supply group {sgc}.")
    try:
        await core.keys.vending_key(key_ref_for(sgc, group.key_revision))
        stored = True
    except KeyError:
        stored = False
    return web.json_response({**_view(group), "key_stored": stored})


@translated
async def _create(request: web.Request) -> web.StreamResponse:
    """``POST /supply-groups``: 201; 409 if the SGC exists."""
    body = SupplyGroupCreate.model_validate_json(await request.read())
    draft = SupplyGroup(key_ref="", **body.model_dump())
    group = await create_supply_group(core_of(request), draft)
    await audit(request, "supply_group.create", "supply_group", group.sgc, after=_view(group))
    return web.json_response(_view(group), status=201)


@translated
async def _set_key(request: web.Request) -> web.StreamResponse:
    """``PUT /supply-groups/{sgc}/keys/{krn}`` ``{"key": "<hex>"}``: 201, the key not echoed."""
    body = VendingKeyUpload.model_validate_json(await request.read())
    sgc, krn = request.match_info["sgc"], int(request.match_info["krn"])
    await store_vending_key(core_of(request), sgc, krn, bytes.fromhex(body.key))
    done = {"sgc": sgc, "krn": krn, "key_stored": True}
    await audit(request, "supply_group.key_set", "supply_group", sgc, after=done)
    return web.json_response(done, status=201)


def add_supply_group_routes(app: web.Application) -> None:
    """Register the supply group routes (names as in ``PERMISSIONS``)."""
    one = r"/supply-groups/{sgc:\d{6}}"
    app.router.add_get("/supply-groups", _list, name="supply_groups.list")
    app.router.add_post("/supply-groups", _create, name="supply_groups.create")
    app.router.add_get(one, _get, name="supply_groups.get")
    app.router.add_put(one + r"/keys/{krn:\d{1,2}}", _set_key, name="supply_groups.set_key")
