"""The SQL master-data queries of the back office (a base of ``SqlAdminRepository``).

Statements are built at import, except the tariff list: one statement per combination of the
filters present (code prefix, utility, newest version only), built on first use and kept (at
most 2**3). "Newest version" is a correlated ``max(version)`` per code, the same test the
meter detail uses to find a meter's current tariff.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select

from sts import Utility
from vending_core.adapters import rows as r
from vending_core.adapters.driver import Statement
from vending_core.adapters.sqlbase import Repository, select_where
from vending_core.adapters.tables import debts, supply_groups, tariffs, vendor_entries, vendors
from vending_core.domain.model import Debt, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import VendorEntry

__all__ = ["SqlMasterDataQueries", "like_prefix"]

_LIM: BindParameter[int] = bindparam("lim")
_OFF: BindParameter[int] = bindparam("off")
_newest = tariffs.alias("newest_version")
_IS_NEWEST = tariffs.c.version == (
    select(func.max(_newest.c.version)).where(_newest.c.code == tariffs.c.code).scalar_subquery()
)
_tariff_statements: dict[tuple[bool, bool, bool], Statement] = {}

_VERSIONS = Statement(select_where(tariffs, "code").order_by(tariffs.c.version))
_GROUPS = Statement(select(supply_groups).order_by(supply_groups.c.sgc).limit(_LIM).offset(_OFF))
_VENDORS = {
    False: Statement(select(vendors).order_by(vendors.c.code).limit(_LIM).offset(_OFF)),
    True: Statement(
        select_where(vendors, "channel").order_by(vendors.c.code).limit(_LIM).offset(_OFF)
    ),
}
_ENTRIES = Statement(
    select_where(vendor_entries, "vendor_id").order_by(vendor_entries.c.id).limit(_LIM).offset(_OFF)
)
_DEBT = Statement(select_where(debts, "id"))
_DEBTS = Statement(select_where(debts, "meter_id").order_by(debts.c.id).limit(_LIM).offset(_OFF))


def like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with ``text`` (wildcards and the escape escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _tariff_statement(present: tuple[bool, bool, bool]) -> Statement:
    found = _tariff_statements.get(present)
    if found is None:
        tests: tuple[ColumnElement[bool], ...] = (
            tariffs.c.code.like(bindparam("code"), escape="\\"),
            tariffs.c.utility == bindparam("utility"),
            _IS_NEWEST,
        )
        wanted = [test for test, on in zip(tests, present, strict=True) if on]
        query = select(tariffs).where(*wanted).order_by(tariffs.c.code, tariffs.c.version)
        query = query.limit(_LIM).offset(_OFF)
        found = _tariff_statements[present] = Statement(query)
    return found


class SqlMasterDataQueries(Repository):
    """``MasterDataQueries`` in SQL (tariffs, supply groups, vendors, ledger, debts)."""

    __slots__ = ()

    async def list_tariffs(
        self,
        *,
        code: str | None,
        utility: Utility | None,
        every_version: bool,
        limit: int,
        offset: int,
    ) -> list[Tariff]:
        """Tariffs by code then version (newest of each code unless ``every_version``)."""
        params: dict[str, Any] = {"lim": limit, "off": offset}
        if code is not None:
            params["code"] = like_prefix(code)
        if utility is not None:
            params["utility"] = int(utility)
        present = (code is not None, utility is not None, not every_version)
        rows = await self._all(_tariff_statement(present), **params)
        return [r.tariff_from_row(row) for row in rows]

    async def tariff_versions(self, code: str) -> list[Tariff]:
        """Every version of one tariff, oldest first."""
        return [r.tariff_from_row(row) for row in await self._all(_VERSIONS, k_code=code)]

    async def list_supply_groups(self, *, limit: int, offset: int) -> list[SupplyGroup]:
        """A page of supply groups by SGC."""
        rows = await self._all(_GROUPS, lim=limit, off=offset)
        return [r.from_row(SupplyGroup, row) for row in rows]

    async def list_vendors(self, *, channel: str | None, limit: int, offset: int) -> list[Vendor]:
        """A page of vendors by code (of ``channel`` when given)."""
        params: dict[str, Any] = {"lim": limit, "off": offset}
        if channel is not None:
            params["k_channel"] = channel
        rows = await self._all(_VENDORS[channel is not None], **params)
        return [r.from_row(Vendor, row) for row in rows]

    async def vendor_entries(self, vendor_id: int, *, limit: int, offset: int) -> list[VendorEntry]:
        """A page of the vendor's float ledger, oldest first."""
        rows = await self._all(_ENTRIES, k_vendor_id=vendor_id, lim=limit, off=offset)
        return [r.from_row(VendorEntry, row) for row in rows]

    async def get_debt(self, debt_id: int) -> Debt | None:
        """One debt by id."""
        row = await self._first(_DEBT, k_id=debt_id)
        return None if row is None else r.from_row(Debt, row)

    async def list_debts(self, meter_id: int, *, limit: int, offset: int) -> list[Debt]:
        """A page of every debt of the meter, by id."""
        rows = await self._all(_DEBTS, k_meter_id=meter_id, lim=limit, off=offset)
        return [r.from_row(Debt, row) for row in rows]
