"""What the master-data handlers share: refusals as problems, pages, the core, the actor.

:func:`translated` wraps a handler so that a
:class:`~vending_core.service.masterdata.MasterDataError` becomes problem JSON: unknown 404,
taken or in the wrong state 409, breaking a rule 422 (pydantic and core refusals are left to
the sub-app's ``refusals`` middleware).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from admin_api.context import ADMIN_CORE, USER
from admin_api.models import Page
from admin_api.problems import problem
from vending_core.service.core import Core
from vending_core.service.masterdata import (
    AlreadyExistsError,
    InvalidDataError,
    MasterDataError,
    NotFoundError,
    StateConflictError,
)

__all__ = ["actor", "core_of", "page", "translated"]

_STATUS: Final[dict[type[MasterDataError], int]] = {
    NotFoundError: 404,
    AlreadyExistsError: 409,
    StateConflictError: 409,
    InvalidDataError: 422,
}


def translated(handler: Handler) -> Handler:
    """The handler, with master-data refusals answered as problem JSON."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except MasterDataError as exc:
            return problem(_STATUS.get(type(exc), 422), exc.code, exc.message)

    return run


def core_of(request: web.Request) -> Core:
    """The vending core."""
    return request.config_dict[ADMIN_CORE]


def actor(request: web.Request) -> str:
    """The calling user's name (recorded on meter events)."""
    return request[USER].username


def page(items: Iterable[dict[str, Any]], query: Page) -> web.Response:
    """``{"items", "limit", "offset"}`` as the other lists answer."""
    return web.json_response({"items": list(items), "limit": query.limit, "offset": query.offset})
