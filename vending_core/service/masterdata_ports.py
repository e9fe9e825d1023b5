"""The master-data queries of the back office (a part of ``AdminRepository``).

Lists with filters and pages that the plain repositories of ``ports.py`` do not offer:
tariffs (newest version of each code, or every version), supply groups, vendors and their
float ledger, and every debt of a meter (paid or written off too). The SQL adapter is
:mod:`vending_core.adapters.masterdata_sql`, its memory twin
:mod:`vending_core.adapters.memory_masterdata`; one contract test runs on both.
"""

from __future__ import annotations

from typing import Protocol

from sts import Utility
from vending_core.domain.model import Debt, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import VendorEntry

__all__ = ["MasterDataQueries"]


class MasterDataQueries(Protocol):
    """Filtered, paginated reads of master data (ordered, so pages never overlap)."""

    async def list_tariffs(
        self,
        *,
        code: str | None,
        utility: Utility | None,
        every_version: bool,
        limit: int,
        offset: int,
    ) -> list[Tariff]:
        """Tariffs by code then version: code starts with ``code``, of ``utility``.

        Without ``every_version`` only the newest version of each code is listed.
        """
        ...

    async def tariff_versions(self, code: str) -> list[Tariff]:
        """Every version of one tariff, oldest first (empty: no such code)."""
        ...

    async def list_supply_groups(self, *, limit: int, offset: int) -> list[SupplyGroup]:
        """A page of supply groups by SGC."""
        ...

    async def list_vendors(self, *, channel: str | None, limit: int, offset: int) -> list[Vendor]:
        """A page of vendors by code, of one channel when ``channel`` is given."""
        ...

    async def vendor_entries(self, vendor_id: int, *, limit: int, offset: int) -> list[VendorEntry]:
        """A page of the vendor's float ledger, oldest first."""
        ...

    async def get_debt(self, debt_id: int) -> Debt | None:
        """One debt by id (whatever is outstanding)."""
        ...

    async def list_debts(self, meter_id: int, *, limit: int, offset: int) -> list[Debt]:
        """A page of every debt of the meter (also those paid or written off), by id."""
        ...
