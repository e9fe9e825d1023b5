"""The one permission table: every named route of ``/admin/v1`` and the lowest level allowed.

The auth middleware (:mod:`admin_api.auth`) enforces it and refuses any route missing from it
(fail closed); the permission-matrix test iterates it. ``None`` marks a public route.
"""

from __future__ import annotations

from typing import Final

from vending_core.service.admin_records import AdminLevel

__all__ = ["PERMISSIONS"]

_OPERATOR, _POS, _SMS, _ADMIN = (
    AdminLevel.OPERATOR,
    AdminLevel.POS_MANAGER,
    AdminLevel.SMS_MANAGER,
    AdminLevel.ADMINISTRATOR,
)

PERMISSIONS: Final[dict[str, AdminLevel | None]] = {
    "openapi": None,
    "login": None,
    "logout": _OPERATOR,
    "me": _OPERATOR,
    "users.list": _POS,
    "users.create": _POS,  # and then only lower levels (administrators: any)
    "users.disable": _POS,
    "api_keys.create": _ADMIN,
    "audit.list": _ADMIN,
    "customers.list": _OPERATOR,
    "customers.get": _OPERATOR,
    "customers.create": _SMS,  # master data: the master station (SMS) manager and above
    "customers.update": _SMS,
    "meters.list": _OPERATOR,
    "meters.get": _OPERATOR,
    "meters.block": _SMS,
    "meters.unblock": _SMS,
    "pos.quote": _OPERATOR,
    "pos.vend": _OPERATOR,
    "pos.reprint": _OPERATOR,
    "pos.reverse": _POS,  # "manager and above"
    "reports.sales": _POS,
}
