"""The in-memory twin of the master-data queries (a base of ``MemoryAdminRepository``).

It reads the memory unit of work's own copy of the tables (:class:`MasterTables` is the shape
of ``vending_core.adapters.memory._Tables`` it needs), in the same orders as the SQL adapter:
tariffs by code then version, supply groups by SGC, vendors by code, ledger entries and debts
in insertion order.
"""

from __future__ import annotations

import copy
from typing import Protocol

from sts import Utility
from vending_core.domain.model import Debt, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import VendorEntry

__all__ = ["MasterTables", "MemoryMasterDataQueries"]


class MasterTables(Protocol):
    """The memory tables the master-data queries read."""

    tariffs: dict[tuple[str, int], Tariff]
    supply_groups: dict[str, SupplyGroup]
    vendors: dict[int, Vendor]
    vendor_entries: list[VendorEntry]
    debts: dict[int, Debt]


class MemoryMasterDataQueries:
    """``MasterDataQueries`` over the memory tables (set ``_master`` before use)."""

    _master: MasterTables

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
        stored = self._master.tariffs
        newest: dict[str, int] = {}
        for tariff_code, version in stored:
            newest[tariff_code] = max(version, newest.get(tariff_code, version))
        found = [
            stored[key]
            for key in sorted(stored)
            if (code is None or key[0].startswith(code))
            and (utility is None or stored[key].utility == utility)
            and (every_version or newest[key[0]] == key[1])
        ]
        return found[offset : offset + limit]

    async def tariff_versions(self, code: str) -> list[Tariff]:
        """Every version of one tariff, oldest first."""
        return [t for key, t in sorted(self._master.tariffs.items()) if key[0] == code]

    async def list_supply_groups(self, *, limit: int, offset: int) -> list[SupplyGroup]:
        """A page of supply groups by SGC."""
        groups = self._master.supply_groups
        return [groups[sgc] for sgc in sorted(groups)][offset : offset + limit]

    async def list_vendors(self, *, channel: str | None, limit: int, offset: int) -> list[Vendor]:
        """A page of vendors by code (of ``channel`` when given)."""
        found = sorted(
            (v for v in self._master.vendors.values() if channel is None or v.channel == channel),
            key=lambda v: v.code,
        )
        return copy.deepcopy(found[offset : offset + limit])

    async def vendor_entries(self, vendor_id: int, *, limit: int, offset: int) -> list[VendorEntry]:
        """A page of the vendor's float ledger, oldest first."""
        mine = [e for e in self._master.vendor_entries if e.vendor_id == vendor_id]
        return mine[offset : offset + limit]

    async def get_debt(self, debt_id: int) -> Debt | None:
        """One debt by id (a copy)."""
        return copy.deepcopy(self._master.debts.get(debt_id))

    async def list_debts(self, meter_id: int, *, limit: int, offset: int) -> list[Debt]:
        """A page of every debt of the meter, by id."""
        debts = self._master.debts
        mine = [debts[k] for k in sorted(debts) if debts[k].meter_id == meter_id]
        return copy.deepcopy(mine[offset : offset + limit])
