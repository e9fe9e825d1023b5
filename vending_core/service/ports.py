"""The ports the use cases drive: repositories inside a unit of work, and a key store.

Adapters implement them twice: SQLAlchemy (SQLite and PostgreSQL) in
``vending_core.adapters`` and in-memory twins for unit tests; one contract test suite
runs against both. Everything is async.

Concurrency contract (what makes vending exactly-once across processes):

* ``MeterRepository.get(..., lock=True)`` / ``get_by_number(..., lock=True)`` /
  ``get_detail(..., lock=True)`` takes the meter's row lock until the unit of work ends
  (``SELECT ... FOR UPDATE`` on PostgreSQL, of the meter row only; SQLite serialises writers
  with ``BEGIN IMMEDIATE``). Every use case that issues a token locks the meter first, so TIDs
  are allocated one vend at a time per meter.
* ``RequestRepository.claim`` inserts the idempotency key (``INSERT ... ON CONFLICT DO
  NOTHING``). A concurrent duplicate waits for the first transaction and then sees its row:
  ``claim`` returns False and the caller replays the stored response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from vending_core.domain.model import Customer, Debt, Meter, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import (
    MaintenanceRequest,
    MeterEvent,
    StoredResponse,
    Vend,
    VendorEntry,
)

__all__ = [
    "CustomerRepository",
    "DebtRepository",
    "KeyStore",
    "MaintenanceRepository",
    "MeterDetail",
    "MeterRepository",
    "RequestRepository",
    "SupplyGroupRepository",
    "TariffRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "VendRepository",
    "VendorRepository",
]


@dataclass(frozen=True, slots=True)
class MeterDetail:
    """A meter with what selling to it needs: customer, current tariff, outstanding debts."""

    meter: Meter
    customer: Customer | None  #: None when the meter has no customer
    tariff: Tariff | None  #: None when no version of ``meter.tariff_code`` is stored
    debts: tuple[Debt, ...] = ()  #: as ``DebtRepository.for_meter`` (read after the lock)


class MeterRepository(Protocol):
    """Meters by number or id; ``lock`` holds the row until the unit of work ends."""

    async def get(self, meter_id: int, *, lock: bool = False) -> Meter | None: ...
    async def get_by_number(self, number: str, *, lock: bool = False) -> Meter | None:
        """Find by printed number (DRN) or by 18-digit PAN."""
        ...

    async def get_detail(self, number: str, *, lock: bool = False) -> MeterDetail | None:
        """As ``get_by_number``, with the meter's customer, current tariff and debts.

        ``lock`` locks the meter row only, as ``get_by_number`` does, and the debts are
        read after the lock is taken (what an earlier sale recovered is gone from them).
        """
        ...

    async def add(self, meter: Meter) -> int: ...
    async def update(self, meter: Meter) -> None: ...
    async def add_event(self, event: MeterEvent) -> None: ...
    async def events(self, meter_id: int) -> list[MeterEvent]: ...


class CustomerRepository(Protocol):
    """Customer accounts."""

    async def get(self, customer_id: int) -> Customer | None: ...
    async def get_by_account(self, account_number: str) -> Customer | None: ...
    async def add(self, customer: Customer) -> int: ...
    async def update(self, customer: Customer) -> None: ...


class TariffRepository(Protocol):
    """Tariff versions: ``add`` stores a new version; vends record the version used."""

    async def current(self, code: str) -> Tariff | None: ...
    async def version(self, code: str, version: int) -> Tariff | None: ...
    async def add(self, tariff: Tariff) -> None: ...


class SupplyGroupRepository(Protocol):
    """Supply groups by SGC."""

    async def get(self, sgc: str) -> SupplyGroup | None: ...
    async def add(self, group: SupplyGroup) -> None: ...
    async def update(self, group: SupplyGroup) -> None: ...


class DebtRepository(Protocol):
    """Debts of a meter, oldest first."""

    async def for_meter(self, meter_id: int) -> list[Debt]:
        """Debts with something outstanding, ordered by id (oldest first)."""
        ...

    async def add(self, debt: Debt) -> int: ...
    async def update(self, debt: Debt) -> None: ...


class VendorRepository(Protocol):
    """Vendors and their append-only float ledger."""

    async def get_by_code(self, code: str, *, lock: bool = False) -> Vendor | None: ...
    async def add(self, vendor: Vendor) -> int: ...
    async def update(self, vendor: Vendor) -> None: ...
    async def add_entry(self, entry: VendorEntry) -> None: ...
    async def entries(self, vendor_id: int) -> list[VendorEntry]: ...


class VendRepository(Protocol):
    """The vend ledger with its tokens."""

    async def add(self, vend: Vend) -> int:
        """Store a vend and its tokens; returns the new id."""
        ...

    async def get(self, vend_id: int) -> Vend | None: ...
    async def for_meter(self, meter_id: int, *, limit: int = 10) -> list[Vend]:
        """The meter's vends, newest first."""
        ...

    async def update(self, vend: Vend) -> None:
        """Store a status change (reversal); tokens never change."""
        ...


class RequestRepository(Protocol):
    """Idempotency keys and the responses stored under them."""

    async def claim(self, client_id: str, request_id: str, fingerprint: str) -> bool:
        """Insert the key; False if it already exists (after waiting for its writer)."""
        ...

    async def get(self, client_id: str, request_id: str) -> StoredResponse | None: ...
    async def complete(
        self, client_id: str, request_id: str, response: str, vend_id: int | None
    ) -> None: ...


class MaintenanceRepository(Protocol):
    """Maintenance requests."""

    async def add(self, request: MaintenanceRequest) -> int: ...
    async def get(self, request_id: int) -> MaintenanceRequest | None: ...
    async def update(self, request: MaintenanceRequest) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction: commit explicitly, or everything is rolled back."""

    @property
    def meters(self) -> MeterRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def tariffs(self) -> TariffRepository: ...
    @property
    def supply_groups(self) -> SupplyGroupRepository: ...
    @property
    def debts(self) -> DebtRepository: ...
    @property
    def vendors(self) -> VendorRepository: ...
    @property
    def vends(self) -> VendRepository: ...
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def maintenance(self) -> MaintenanceRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class KeyStore(Protocol):
    """Vending keys by reference. Keys at rest are encrypted; an HSM may replace this."""

    async def vending_key(self, key_ref: str) -> bytes:
        """The clear vending key (raise KeyError if unknown). Never log it."""
        ...

    async def store(self, key_ref: str, key: bytes) -> None: ...
