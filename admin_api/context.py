"""Typed keys of the admin sub-application and of its requests."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from vending_core.service.admin_records import AdminUser
from vending_core.service.core import Core

__all__ = ["ADMIN_CORE", "TOKEN", "USER"]

#: The vending core; the composition root (``gateway.app``) puts it on the parent app.
ADMIN_CORE: Final = web.AppKey("admin_core", Core)
USER: Final = web.RequestKey("admin_user", AdminUser)  #: who is calling (set by the auth)
TOKEN: Final = web.RequestKey("admin_token", str)  #: their bearer token or API key
