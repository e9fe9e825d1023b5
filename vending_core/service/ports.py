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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from vending_core.domain.agents import Agent
from vending_core.domain.model import Customer, Debt, Meter, SupplyGroup, Tariff, Vendor
from vending_core.domain.payments import Payment, PaymentEvent, Voucher, WalletEntry
from vending_core.domain.records import (
    MaintenanceRequest,
    MaintenanceStatus,
    MeterEvent,
    StoredResponse,
    Vend,
    VendorEntry,
)
from vending_core.domain.vouchers import VoucherBatch
from vending_core.service.admin_ports import AdminRepository
from vending_core.service.api_records import ApiClient
from vending_core.service.ledger_ports import LedgerAuditRepository
from vending_core.service.messaging_records import (
    HeldReport,
    OutboxMessage,
    PhoneProfile,
    ProfileMeter,
)
from vending_core.service.report_ports import ReportRepository
from vending_core.service.shift_ports import ShiftRepository

__all__ = [
    "AdminRepository",
    "AgentRepository",
    "ApiClientRepository",
    "CustomerRepository",
    "DebtRepository",
    "KeyStore",
    "LedgerAuditRepository",
    "MaintenanceRepository",
    "MeterDetail",
    "MeterRepository",
    "OutboxRepository",
    "PaymentRepository",
    "ProfileRepository",
    "ReportRepository",
    "RequestRepository",
    "ShiftRepository",
    "SupplyGroupRepository",
    "TariffRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "VendRepository",
    "VendorRepository",
    "VoucherRepository",
    "WalletRepository",
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

    async def move(self, entry: VendorEntry, *, covers: int | None = None) -> int | None:
        """Add ``entry.amount`` to the vendor's float and append ``entry``, atomically.

        ``entry.balance_after`` is ignored: the entry is stored with the balance the
        movement left. With ``covers``, the movement happens only if the float (balance plus
        credit limit) covers that much before it. Returns the balance after, or None when
        the float did not cover (nothing changed). The vendor's row stays locked until the
        unit of work ends: call it last.
        """
        ...

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
    async def get(self, request_id: int, *, lock: bool = False) -> MaintenanceRequest | None:
        """By id; ``lock`` holds the row until the unit of work ends (one move at a time)."""
        ...

    async def update(self, request: MaintenanceRequest) -> None: ...
    async def find(
        self,
        *,
        status: MaintenanceStatus | None,
        meter_id: int | None,
        engineer: str | None,
        limit: int,
        offset: int,
    ) -> list[MaintenanceRequest]:
        """A page of requests by id (oldest first), filtered by status, meter and engineer."""
        ...


class PaymentRepository(Protocol):
    """Payment intents and their append-only history.

    ``(client_id, request_id)``, ``(provider, provider_reference)`` and ``(provider,
    receipt)`` are unique. ``lock`` holds the payment row until the unit of work ends
    (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so one report at a time
    moves a payment.
    """

    async def add(self, payment: Payment) -> bool:
        """Insert the intent; False if its (client_id, request_id) exists (after its writer)."""
        ...

    async def get(self, payment_id: str, *, lock: bool = False) -> Payment | None: ...
    async def get_by_provider_reference(
        self, provider: str, reference: str, *, lock: bool = False
    ) -> Payment | None: ...
    async def get_by_request(self, client_id: str, request_id: str) -> Payment | None: ...
    async def update(self, payment: Payment) -> None: ...
    async def add_event(self, event: PaymentEvent) -> None: ...
    async def update_with_event(self, payment: Payment, event: PaymentEvent) -> None:
        """``update(payment)`` then ``add_event(event)``, one round trip where the database can.

        ``event.payment_id`` must be ``payment.id`` (ValueError otherwise). A payment that is
        not stored raises as ``update`` does, and no event is stored.
        """
        ...

    async def add_with_event(self, payment: Payment, event: PaymentEvent) -> bool:
        """``add(payment)`` then, if it was added, ``add_event(event)``; what ``add`` returns.

        ``event.payment_id`` must be ``payment.id`` (ValueError otherwise). Not added (False):
        no event is stored either.
        """
        ...

    async def events(self, payment_id: str) -> list[PaymentEvent]:
        """The payment's history, oldest first."""
        ...

    async def pending(self, *, created_before: datetime, limit: int = 100) -> list[Payment]:
        """PENDING payments made before ``created_before`` (to query), oldest first."""
        ...

    async def expiring(self, now: datetime, *, limit: int = 100) -> list[Payment]:
        """PENDING payments with ``expires_at <= now``, oldest first."""
        ...

    async def paid_not_vended(self, *, limit: int = 100) -> list[Payment]:
        """PAID payments (money taken, no vend stored), oldest first."""
        ...

    async def vended_without_token_sms(
        self, *, created_since: datetime, limit: int = 100
    ) -> list[Payment]:
        """Phone payments vended without their token SMS in the outbox, oldest first.

        VENDED payments made since ``created_since``, not on the ``api`` channel, with no
        outbox row under the vend's dedupe key (``vend:<id>:token``). Empty unless a process
        died between committing a vend and queueing its SMS.
        """
        ...


class WalletRepository(Protocol):
    """Customer wallets: a balance per msisdn and its append-only ledger.

    ``balance(..., lock=True)`` locks the wallet row. ``add_entry`` returns False when an
    entry with the same ``reference`` exists (a retried debit), and stores nothing then.
    """

    async def balance(self, msisdn: str, *, lock: bool = False) -> int | None:
        """The balance, or None when the msisdn has no wallet."""
        ...

    async def open(self, msisdn: str, currency: str, now: datetime) -> None:
        """Create an empty wallet if there is none."""
        ...

    async def add_entry(self, entry: WalletEntry) -> bool:
        """Append the entry and set the wallet's balance to ``entry.balance_after``."""
        ...

    async def entry(self, reference: str) -> WalletEntry | None: ...
    async def entries(self, msisdn: str) -> list[WalletEntry]:
        """The wallet's entries, oldest first."""
        ...


class VoucherRepository(Protocol):
    """Scratch-card vouchers (PINs only as hashes) and PIN attempts per msisdn."""

    async def add(self, voucher: Voucher) -> int: ...
    async def get_by_pin_hash(self, pin_hash: str) -> Voucher | None: ...
    async def get_by_payment(self, payment_id: str) -> Voucher | None: ...
    async def redeem(self, voucher_id: int, *, msisdn: str, payment_id: str, at: datetime) -> bool:
        """Mark an ACTIVE voucher redeemed (a conditional update); False if it was not."""
        ...

    async def add_attempt(self, msisdn: str, at: datetime, *, ok: bool) -> None: ...
    async def failures_since(self, msisdn: str, since: datetime) -> list[datetime]:
        """Times of the msisdn's failed PIN attempts at or after ``since``, oldest first."""
        ...

    async def add_many(self, vouchers: Sequence[Voucher]) -> None:
        """Store a batch's cards in one statement (a repeated serial or PIN: nothing stored)."""
        ...

    async def batches(self, *, limit: int, offset: int) -> list[VoucherBatch]:
        """A page of batch summaries (one ``GROUP BY``), oldest batch first."""
        ...

    async def batch(self, batch: str) -> VoucherBatch | None:
        """The summary of one batch; None if no card belongs to it."""
        ...

    async def in_batch(self, batch: str, *, limit: int, offset: int) -> list[Voucher]:
        """A page of the batch's cards in serial order."""
        ...

    async def void_batch(self, batch: str) -> int:
        """Make the batch's ACTIVE cards VOID (a conditional update); how many changed."""
        ...


class OutboxRepository(Protocol):
    """The SMS outbox (``vending_core.service.outbox`` decides every state change).

    ``claim_due`` is the only concurrent path: it picks due rows (``queued`` with
    ``next_attempt_at <= now``, or ``sending`` with ``lease_until <= now``) that no other
    transaction holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite and the memory twin
    serialise whole units of work), marks them ``sending`` with the new lease and one more
    attempt, and returns them as stored.

    The ``*_many`` / plural methods serve the dispatcher's record of a whole round in one
    unit of work, one statement each: ``lock_many`` locks the rows ordered by id (so two
    replicas recording overlapping rounds take their locks in the same order and cannot
    deadlock) and leaves out ids not stored; ``update_many`` stores every field of messages
    this unit of work has locked (SQL runs one ``executemany`` and does not check that each
    row exists: lock them first); ``held_reports`` / ``drop_reports`` read and forget the
    held reports of several provider message ids of one provider.
    """

    async def add(self, message: OutboxMessage) -> OutboxMessage | None:
        """Insert unless the dedupe key exists (then None); returns the stored row."""
        ...

    async def get(self, message_id: int, *, lock: bool = False) -> OutboxMessage | None: ...
    async def get_by_key(self, dedupe_key: str) -> OutboxMessage | None: ...
    async def get_by_provider_id(
        self, provider: str, provider_message_id: str, *, lock: bool = False
    ) -> OutboxMessage | None: ...
    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]: ...
    async def update(self, message: OutboxMessage) -> None: ...
    async def lock_many(self, message_ids: Sequence[int]) -> list[OutboxMessage]:
        """The stored messages among ``message_ids``, ordered by id, each locked."""
        ...

    async def update_many(self, messages: Sequence[OutboxMessage]) -> None: ...
    async def held_report(self, provider: str, provider_message_id: str) -> HeldReport | None: ...
    async def held_reports(
        self, provider: str, provider_message_ids: Sequence[str]
    ) -> list[HeldReport]:
        """The reports held for any of those ids of ``provider`` (in no particular order)."""
        ...

    async def hold_report(self, report: HeldReport) -> None:
        """Insert or replace the held report of that provider message id."""
        ...

    async def drop_report(self, provider: str, provider_message_id: str) -> None: ...
    async def drop_reports(self, provider: str, provider_message_ids: Sequence[str]) -> None: ...


class ProfileRepository(Protocol):
    """Phone profiles: language and saved meters (ordered by position)."""

    async def get(self, msisdn: str) -> PhoneProfile | None: ...
    async def lock(self, msisdn: str, at: datetime) -> None:
        """Create the profile row if missing and hold it until the unit of work ends."""
        ...

    async def set_language(self, msisdn: str, language: str | None, at: datetime) -> None: ...
    async def save_meter(self, msisdn: str, meter: ProfileMeter, position: int) -> None:
        """Insert the meter, or update its name and position (list order)."""
        ...

    async def remove_meter(self, msisdn: str, number: str) -> bool: ...


class AgentRepository(Protocol):
    """SMS agents by phone number; ``lock`` holds the agent row until the unit of work ends."""

    async def add(self, agent: Agent) -> bool:
        """Insert the agent; False if its msisdn exists (after waiting for its writer)."""
        ...

    async def get(self, msisdn: str, *, lock: bool = False) -> Agent | None: ...
    async def update(self, agent: Agent) -> None: ...


class ApiClientRepository(Protocol):
    """Partner API keys by public key id (the secret only sealed; see ``api_records``)."""

    async def add(self, client: ApiClient) -> bool:
        """Insert the client; False if its key id exists."""
        ...

    async def get(self, key_id: str) -> ApiClient | None: ...


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
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def profiles(self) -> ProfileRepository: ...
    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def wallets(self) -> WalletRepository: ...
    @property
    def vouchers(self) -> VoucherRepository: ...
    @property
    def agents(self) -> AgentRepository: ...
    @property
    def api_clients(self) -> ApiClientRepository: ...
    @property
    def admin(self) -> AdminRepository: ...
    @property
    def ledger_audit(self) -> LedgerAuditRepository: ...
    @property
    def shifts(self) -> ShiftRepository: ...
    @property
    def reports(self) -> ReportRepository: ...

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
