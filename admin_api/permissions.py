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
    "users.update": _POS,  # area, allowed IPs, scopes: also only lower levels
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
    "reports.vending": _POS,
    "reports.free_issue": _POS,
    "reports.debt": _POS,
    "reports.reversals": _POS,
    "reports.reprints": _POS,
    "reports.maintenance": _POS,
    "reports.reconciliation": _POS,
    "reports.abnormal": _POS,
    # Master data: anyone reads it; the master station (SMS) manager changes it (as customers);
    # POS managers top up floats; vending keys (write-only) only administrators upload.
    "tariffs.list": _OPERATOR,
    "tariffs.get": _OPERATOR,
    "tariffs.create": _SMS,
    "tariffs.add_version": _SMS,
    "supply_groups.list": _OPERATOR,
    "supply_groups.get": _OPERATOR,
    "supply_groups.create": _SMS,
    "supply_groups.set_key": _ADMIN,
    "meters.install": _SMS,
    "meters.update": _SMS,
    "meters.replace": _SMS,
    "debts.list": _OPERATOR,
    "debts.create": _SMS,
    "debts.update": _SMS,
    "vendors.list": _OPERATOR,
    "vendors.get": _OPERATOR,
    "vendors.entries": _OPERATOR,
    "vendors.create": _SMS,
    "vendors.update": _SMS,
    "vendors.top_up": _POS,
    # Field operations: engineering and key-change tokens are sensitive (SMS manager and up);
    # anyone reports a fault, POS managers dispatch and close it; operators run their own
    # vending point's shift (the handlers refuse other vending points below POS manager).
    "engineering.token": _SMS,
    "meters.key_change": _SMS,
    "maintenance.open": _OPERATOR,
    "maintenance.list": _OPERATOR,
    "maintenance.assign": _POS,
    "maintenance.resolve": _POS,
    "shifts.open": _OPERATOR,
    "shifts.close": _OPERATOR,
    "shifts.list": _OPERATOR,
    "shifts.report": _OPERATOR,
    # Scratch cards: issuing prints money-equivalent PINs, so administrators only; voiding a
    # lost or stolen batch is a protective stop, open to the master station (SMS) manager.
    "voucher_batches.list": _POS,
    "voucher_batches.get": _POS,
    "voucher_batches.create": _ADMIN,
    "voucher_batches.void": _SMS,
}
