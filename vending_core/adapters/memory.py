"""In-memory twins of the vending ports, for unit tests and the contract suite.

One :class:`MemoryDatabase` holds the tables as dicts of dataclass copies. A unit of
work takes a process-wide lock when it starts (like SQLite's ``BEGIN IMMEDIATE``),
works on a private copy of the tables, and publishes it on commit — so rollback,
isolation and "a duplicate claim waits for the first" behave as in the real adapters.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from vending_core.adapters.memory_admin import AdminTables, MemoryAdminRepository
from vending_core.adapters.memory_agents import AgentTables, MemoryAgentRepository
from vending_core.adapters.memory_api import ApiClientTables, MemoryApiClientRepository
from vending_core.adapters.memory_ledger import LedgerSources, MemoryLedgerAudit
from vending_core.adapters.memory_messaging import MemoryOutbox, MemoryProfiles, MessagingTables
from vending_core.adapters.memory_payments import (
    MemoryPaymentRepository,
    MemoryVoucherRepository,
    MemoryWalletRepository,
    PaymentTables,
)
from vending_core.adapters.memory_reports import MemoryReportRepository
from vending_core.adapters.memory_shifts import MemoryShiftRepository, ShiftTables
from vending_core.domain.model import Customer, Debt, Meter, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import (
    MaintenanceRequest,
    MaintenanceStatus,
    MeterEvent,
    StoredResponse,
    Vend,
    VendorEntry,
)
from vending_core.service.ports import MeterDetail

__all__ = ["MemoryDatabase", "MemoryKeyStore", "MemoryUnitOfWork", "memory_uow_factory"]


class DuplicateTidError(Exception):
    """Two tokens of one meter would share a TID (the database forbids it)."""


@dataclass
class _Tables:
    meters: dict[int, Meter] = field(default_factory=dict)
    meter_events: list[MeterEvent] = field(default_factory=list)
    customers: dict[int, Customer] = field(default_factory=dict)
    tariffs: dict[tuple[str, int], Tariff] = field(default_factory=dict)
    supply_groups: dict[str, SupplyGroup] = field(default_factory=dict)
    debts: dict[int, Debt] = field(default_factory=dict)
    vendors: dict[int, Vendor] = field(default_factory=dict)
    vendor_entries: list[VendorEntry] = field(default_factory=list)
    vends: dict[int, Vend] = field(default_factory=dict)
    requests: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    maintenance: dict[int, MaintenanceRequest] = field(default_factory=dict)
    messaging: MessagingTables = field(default_factory=MessagingTables)
    payment_tables: PaymentTables = field(default_factory=PaymentTables)
    agent_tables: AgentTables = field(default_factory=AgentTables)
    api_tables: ApiClientTables = field(default_factory=ApiClientTables)
    admin_tables: AdminTables = field(default_factory=AdminTables)
    shift_tables: ShiftTables = field(default_factory=ShiftTables)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class MemoryDatabase:
    """The shared state behind every :class:`MemoryUnitOfWork` of one factory."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.lock = asyncio.Lock()


_T = TypeVar("_T")


def _copy(value: _T) -> _T:
    return copy.deepcopy(value)


def _id(entity_id: int | None) -> int:
    if entity_id is None:
        raise ValueError("update needs a stored entity (id is None)")
    return entity_id


def _existing(table: dict[Any, Any], key: Any) -> Any:
    if key not in table:
        raise KeyError(f"no stored row {key!r} to update")
    return key


class _Repo:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables


class _Meters(_Repo):
    async def get(self, meter_id: int, *, lock: bool = False) -> Meter | None:
        return _copy(self._t.meters.get(meter_id))

    async def get_by_number(self, number: str, *, lock: bool = False) -> Meter | None:
        for meter in self._t.meters.values():
            if number in (meter.number, meter.pan):
                return _copy(meter)
        return None

    async def get_detail(self, number: str, *, lock: bool = False) -> MeterDetail | None:
        meter = await self.get_by_number(number, lock=lock)
        if meter is None:
            return None
        customer = None if meter.customer_id is None else self._t.customers.get(meter.customer_id)
        versions = [t for (c, _), t in self._t.tariffs.items() if c == meter.tariff_code]
        tariff = max(versions, key=lambda t: t.version) if versions else None
        debts = await _Debts(self._t).for_meter(_id(meter.id))
        return MeterDetail(meter, _copy(customer), tariff, tuple(debts))

    async def add(self, meter: Meter) -> int:
        if any(m.number == meter.number or m.pan == meter.pan for m in self._t.meters.values()):
            raise ValueError(f"meter {meter.number} exists")
        meter_id = self._t.new_id()
        self._t.meters[meter_id] = replace(_copy(meter), id=meter_id)
        return meter_id

    async def update(self, meter: Meter) -> None:
        self._t.meters[_existing(self._t.meters, _id(meter.id))] = _copy(meter)

    async def add_event(self, event: MeterEvent) -> None:
        self._t.meter_events.append(event)

    async def events(self, meter_id: int) -> list[MeterEvent]:
        return [e for e in self._t.meter_events if e.meter_id == meter_id]


class _Customers(_Repo):
    async def get(self, customer_id: int) -> Customer | None:
        return _copy(self._t.customers.get(customer_id))

    async def get_by_account(self, account_number: str) -> Customer | None:
        found = [c for c in self._t.customers.values() if c.account_number == account_number]
        return _copy(found[0]) if found else None

    async def add(self, customer: Customer) -> int:
        if any(c.account_number == customer.account_number for c in self._t.customers.values()):
            raise ValueError(f"customer account {customer.account_number} exists")
        customer_id = self._t.new_id()
        self._t.customers[customer_id] = replace(_copy(customer), id=customer_id)
        return customer_id

    async def update(self, customer: Customer) -> None:
        self._t.customers[_existing(self._t.customers, _id(customer.id))] = _copy(customer)


class _Tariffs(_Repo):
    async def current(self, code: str) -> Tariff | None:
        versions = [t for (c, _), t in self._t.tariffs.items() if c == code]
        return max(versions, key=lambda t: t.version) if versions else None

    async def version(self, code: str, version: int) -> Tariff | None:
        return self._t.tariffs.get((code, version))

    async def add(self, tariff: Tariff) -> None:
        key = (tariff.code, tariff.version)
        if key in self._t.tariffs:
            raise ValueError(f"tariff {tariff.code} v{tariff.version} exists")
        self._t.tariffs[key] = tariff


class _SupplyGroups(_Repo):
    async def get(self, sgc: str) -> SupplyGroup | None:
        return self._t.supply_groups.get(sgc)

    async def add(self, group: SupplyGroup) -> None:
        if group.sgc in self._t.supply_groups:
            raise ValueError(f"supply group {group.sgc} exists")
        self._t.supply_groups[group.sgc] = group

    async def update(self, group: SupplyGroup) -> None:
        self._t.supply_groups[_existing(self._t.supply_groups, group.sgc)] = group


class _Debts(_Repo):
    async def for_meter(self, meter_id: int) -> list[Debt]:
        return [
            _copy(d)
            for _, d in sorted(self._t.debts.items())
            if d.meter_id == meter_id and d.outstanding > 0
        ]

    async def add(self, debt: Debt) -> int:
        debt_id = self._t.new_id()
        self._t.debts[debt_id] = replace(_copy(debt), id=debt_id)
        return debt_id

    async def update(self, debt: Debt) -> None:
        self._t.debts[_existing(self._t.debts, _id(debt.id))] = _copy(debt)


class _Vendors(_Repo):
    async def get_by_code(self, code: str, *, lock: bool = False) -> Vendor | None:
        found = [v for v in self._t.vendors.values() if v.code == code]
        return _copy(found[0]) if found else None

    async def add(self, vendor: Vendor) -> int:
        if any(v.code == vendor.code for v in self._t.vendors.values()):
            raise ValueError(f"vendor {vendor.code} exists")
        vendor_id = self._t.new_id()
        self._t.vendors[vendor_id] = replace(_copy(vendor), id=vendor_id)
        return vendor_id

    async def update(self, vendor: Vendor) -> None:
        self._t.vendors[_existing(self._t.vendors, _id(vendor.id))] = _copy(vendor)

    async def add_entry(self, entry: VendorEntry) -> None:
        self._t.vendor_entries.append(entry)

    async def move(self, entry: VendorEntry, *, covers: int | None = None) -> int | None:
        vendor = self._t.vendors[_existing(self._t.vendors, entry.vendor_id)]
        if covers is not None and vendor.balance + vendor.credit_limit < covers:
            return None
        self._t.vendors[entry.vendor_id] = replace(vendor, balance=vendor.balance + entry.amount)
        self._t.vendor_entries.append(replace(entry, balance_after=vendor.balance + entry.amount))
        return vendor.balance + entry.amount

    async def entries(self, vendor_id: int) -> list[VendorEntry]:
        return [e for e in self._t.vendor_entries if e.vendor_id == vendor_id]


class _Vends(_Repo):
    async def add(self, vend: Vend) -> int:
        used = {
            token.tid
            for other in self._t.vends.values()
            if other.meter_id == vend.meter_id
            for token in other.tokens
            if token.tid is not None
        }
        tids = [t.tid for t in vend.tokens if t.tid is not None]
        if used.intersection(tids) or len(set(tids)) != len(tids):
            raise DuplicateTidError(f"meter {vend.meter_number} already has one of TIDs {tids}")
        vend_id = self._t.new_id()
        self._t.vends[vend_id] = replace(_copy(vend), id=vend_id)
        return vend_id

    async def get(self, vend_id: int) -> Vend | None:
        return _copy(self._t.vends.get(vend_id))

    async def for_meter(self, meter_id: int, *, limit: int = 10) -> list[Vend]:
        mine = [v for _, v in sorted(self._t.vends.items()) if v.meter_id == meter_id]
        return _copy(mine[::-1][:limit])

    async def update(self, vend: Vend) -> None:
        stored = self._t.vends[_id(vend.id)]
        self._t.vends[_id(vend.id)] = replace(_copy(vend), tokens=stored.tokens)


class _Requests(_Repo):
    async def claim(self, client_id: str, request_id: str, fingerprint: str) -> bool:
        key = (client_id, request_id)
        if key in self._t.requests:
            return False
        self._t.requests[key] = StoredResponse(
            client_id=client_id,
            request_id=request_id,
            fingerprint=fingerprint,
            response=None,
            vend_id=None,
            created_at=datetime.now(UTC),
        )
        return True

    async def get(self, client_id: str, request_id: str) -> StoredResponse | None:
        return self._t.requests.get((client_id, request_id))

    async def complete(
        self, client_id: str, request_id: str, response: str, vend_id: int | None
    ) -> None:
        key = (client_id, request_id)
        self._t.requests[key] = replace(self._t.requests[key], response=response, vend_id=vend_id)


class _Maintenance(_Repo):
    async def add(self, request: MaintenanceRequest) -> int:
        request_id = self._t.new_id()
        self._t.maintenance[request_id] = replace(_copy(request), id=request_id)
        return request_id

    async def get(self, request_id: int, *, lock: bool = False) -> MaintenanceRequest | None:
        return _copy(self._t.maintenance.get(request_id))

    async def update(self, request: MaintenanceRequest) -> None:
        self._t.maintenance[_existing(self._t.maintenance, _id(request.id))] = _copy(request)

    async def find(
        self,
        *,
        status: MaintenanceStatus | None,
        meter_id: int | None,
        engineer: str | None,
        limit: int,
        offset: int,
    ) -> list[MaintenanceRequest]:
        found = [
            m
            for _, m in sorted(self._t.maintenance.items())
            if (status is None or m.status is status)
            and (meter_id is None or m.meter_id == meter_id)
            and (engineer is None or m.engineer == engineer)
        ]
        return _copy(found[offset : offset + limit])


class MemoryUnitOfWork:
    """A serialised transaction over a private copy of the tables."""

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database
        self._committed = False

    def _bind(self, tables: _Tables) -> None:
        self._tables = tables
        self.meters = _Meters(tables)
        self.customers = _Customers(tables)
        self.tariffs = _Tariffs(tables)
        self.supply_groups = _SupplyGroups(tables)
        self.debts = _Debts(tables)
        self.vendors = _Vendors(tables)
        self.vends = _Vends(tables)
        self.requests = _Requests(tables)
        self.maintenance = _Maintenance(tables)
        self.outbox = MemoryOutbox(tables.messaging)
        self.profiles = MemoryProfiles(tables.messaging)
        self.payments = MemoryPaymentRepository(
            tables.payment_tables,
            lambda: {m.dedupe_key for m in tables.messaging.outbox.values()},
        )
        self.wallets = MemoryWalletRepository(tables.payment_tables)
        self.vouchers = MemoryVoucherRepository(tables.payment_tables)
        self.agents = MemoryAgentRepository(
            tables.agent_tables, lambda code: any(v.code == code for v in tables.vendors.values())
        )
        self.api_clients = MemoryApiClientRepository(
            tables.api_tables, lambda code: any(v.code == code for v in tables.vendors.values())
        )
        self.admin = MemoryAdminRepository(
            tables.admin_tables,
            tables.vends.values,
            tables.customers.values,
            tables.meters.values,
            master=tables,
        )
        self.shifts = MemoryShiftRepository(tables.shift_tables, tables.vends.values)
        self.ledger_audit = MemoryLedgerAudit(
            LedgerSources(
                vends=lambda: tables.vends,
                payments=lambda: tables.payment_tables.payments,
                vendors=lambda: tables.vendors,
                vendor_entries=lambda: tables.vendor_entries,
            )
        )
        self.reports = MemoryReportRepository(tables)

    async def __aenter__(self) -> Self:
        await self._db.lock.acquire()
        self._bind(copy.deepcopy(self._db.tables))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.lock.release()

    async def commit(self) -> None:
        """Publish this transaction's copy of the tables."""
        self._db.tables = self._tables
        self._bind(copy.deepcopy(self._tables))


def memory_uow_factory(database: MemoryDatabase | None = None) -> Callable[[], MemoryUnitOfWork]:
    """A factory of units of work over one (new, unless given) in-memory database."""
    db = database or MemoryDatabase()
    return lambda: MemoryUnitOfWork(db)


class MemoryKeyStore:
    """Vending keys held in a dict (tests only: nothing is encrypted)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    async def vending_key(self, key_ref: str) -> bytes:
        """The stored key; KeyError if unknown."""
        return self._keys[key_ref]

    async def store(self, key_ref: str, key: bytes) -> None:
        """Store or replace a key."""
        self._keys[key_ref] = bytes(key)
