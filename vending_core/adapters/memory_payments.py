"""In-memory twins of the payment, wallet and voucher repositories.

Their rows live in :class:`PaymentTables`, one field of the memory database's tables, so the
memory unit of work (:mod:`vending_core.adapters.memory`) copies, commits and rolls them back
with everything else. The unique keys of the SQL schema are checked here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from vending_core.domain.payments import (
    Payment,
    PaymentEvent,
    PaymentStatus,
    Voucher,
    VoucherStatus,
    WalletEntry,
)
from vending_core.domain.vouchers import VoucherBatch

__all__ = [
    "DuplicateRowError",
    "MemoryPaymentRepository",
    "MemoryVoucherRepository",
    "MemoryWalletRepository",
    "PaymentTables",
]


class DuplicateRowError(ValueError):
    """A row would repeat a unique key (the database would refuse it)."""


@dataclass
class PaymentTables:
    """The payment rows of one memory database."""

    payments: dict[str, Payment] = field(default_factory=dict)
    events: list[PaymentEvent] = field(default_factory=list)
    wallets: dict[str, int] = field(default_factory=dict)
    wallet_entries: list[WalletEntry] = field(default_factory=list)
    vouchers: dict[int, Voucher] = field(default_factory=dict)
    attempts: list[tuple[str, datetime, bool]] = field(default_factory=list)


def _unique_keys(payment: Payment) -> set[tuple[str, ...]]:
    keys: set[tuple[str, ...]] = {("request", payment.client_id, payment.request_id)}
    if payment.provider_reference is not None:
        keys.add(("reference", payment.provider, payment.provider_reference))
    if payment.receipt is not None:
        keys.add(("receipt", payment.provider, payment.receipt))
    return keys


def _check_event_of(payment: Payment, event: PaymentEvent) -> None:
    if event.payment_id != payment.id:
        raise ValueError(f"event of payment {event.payment_id} given with payment {payment.id}")


class MemoryPaymentRepository:
    """``ports.PaymentRepository`` over :class:`PaymentTables` (payments are frozen values)."""

    def __init__(self, tables: PaymentTables, queued_keys: Callable[[], set[str]] = set) -> None:
        self._t = tables
        self._queued_keys = queued_keys  #: the outbox's dedupe keys (the memory unit of work's)

    def _check_unique(self, payment: Payment) -> None:
        mine = _unique_keys(payment)
        for other in self._t.payments.values():
            if other.id != payment.id and mine & _unique_keys(other):
                raise DuplicateRowError(f"payment {payment.id} repeats a unique key of {other.id}")

    async def add(self, payment: Payment) -> bool:
        """Insert; False if the (client_id, request_id) exists."""
        if self.get_by_request_now(payment.client_id, payment.request_id) is not None:
            return False
        if payment.id in self._t.payments:
            raise DuplicateRowError(f"payment {payment.id} exists")
        self._check_unique(payment)
        self._t.payments[payment.id] = payment
        return True

    async def get(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """By id."""
        return self._t.payments.get(payment_id)

    async def get_by_provider_reference(
        self, provider: str, reference: str, *, lock: bool = False
    ) -> Payment | None:
        """By the provider's reference."""
        for payment in self._t.payments.values():
            if (payment.provider, payment.provider_reference) == (provider, reference):
                return payment
        return None

    def get_by_request_now(self, client_id: str, request_id: str) -> Payment | None:
        """By the purchase's idempotency key (synchronous helper)."""
        for payment in self._t.payments.values():
            if (payment.client_id, payment.request_id) == (client_id, request_id):
                return payment
        return None

    async def get_by_request(self, client_id: str, request_id: str) -> Payment | None:
        """By the purchase's idempotency key."""
        return self.get_by_request_now(client_id, request_id)

    async def update(self, payment: Payment) -> None:
        """Store a stored payment's new state."""
        if payment.id not in self._t.payments:
            raise KeyError(f"no payment {payment.id} to update")
        self._check_unique(payment)
        self._t.payments[payment.id] = payment

    async def add_event(self, event: PaymentEvent) -> None:
        """Append to the payment's history."""
        self._t.events.append(event)

    async def update_with_event(self, payment: Payment, event: PaymentEvent) -> None:
        """``update`` then ``add_event`` (no event if ``update`` raises)."""
        _check_event_of(payment, event)
        await self.update(payment)
        await self.add_event(event)

    async def add_with_event(self, payment: Payment, event: PaymentEvent) -> bool:
        """``add`` then, if added, ``add_event``; what ``add`` returned."""
        _check_event_of(payment, event)
        if not await self.add(payment):
            return False
        await self.add_event(event)
        return True

    async def events(self, payment_id: str) -> list[PaymentEvent]:
        """The payment's history, oldest first."""
        return [e for e in self._t.events if e.payment_id == payment_id]

    def _where(self, status: PaymentStatus, limit: int) -> list[Payment]:
        found = [p for p in self._t.payments.values() if p.status is status]
        return sorted(found, key=lambda p: (p.created_at, p.id))[:limit]

    async def pending(self, *, created_before: datetime, limit: int = 100) -> list[Payment]:
        """PENDING payments made before ``created_before``."""
        found = self._where(PaymentStatus.PENDING, len(self._t.payments))
        return [p for p in found if p.created_at < created_before][:limit]

    async def expiring(self, now: datetime, *, limit: int = 100) -> list[Payment]:
        """PENDING payments past their expiry."""
        found = self._where(PaymentStatus.PENDING, len(self._t.payments))
        return [p for p in found if p.expires_at <= now][:limit]

    async def paid_not_vended(self, *, limit: int = 100) -> list[Payment]:
        """PAID payments."""
        return self._where(PaymentStatus.PAID, limit)

    async def vended_without_token_sms(
        self, *, created_since: datetime, limit: int = 100
    ) -> list[Payment]:
        """VENDED phone payments since ``created_since`` whose token SMS is not queued."""
        queued = self._queued_keys()
        found = self._where(PaymentStatus.VENDED, len(self._t.payments))
        return [
            p
            for p in found
            if p.created_at >= created_since
            and p.channel != "api"
            and p.vend_id is not None
            and f"vend:{p.vend_id}:token" not in queued
        ][:limit]


class MemoryWalletRepository:
    """``ports.WalletRepository`` over :class:`PaymentTables`."""

    def __init__(self, tables: PaymentTables) -> None:
        self._t = tables

    async def balance(self, msisdn: str, *, lock: bool = False) -> int | None:
        """The balance, None without a wallet."""
        return self._t.wallets.get(msisdn)

    async def open(self, msisdn: str, currency: str, now: datetime) -> None:
        """Create an empty wallet if there is none."""
        self._t.wallets.setdefault(msisdn, 0)

    async def add_entry(self, entry: WalletEntry) -> bool:
        """Append and set the balance; False (nothing stored) for a repeated reference."""
        if entry.msisdn not in self._t.wallets:
            raise KeyError(f"no wallet for {entry.msisdn}")
        if any(e.reference == entry.reference for e in self._t.wallet_entries):
            return False
        self._t.wallet_entries.append(entry)
        self._t.wallets[entry.msisdn] = entry.balance_after
        return True

    async def entry(self, reference: str) -> WalletEntry | None:
        """The entry with that reference."""
        found = [e for e in self._t.wallet_entries if e.reference == reference]
        return found[0] if found else None

    async def entries(self, msisdn: str) -> list[WalletEntry]:
        """The wallet's entries, oldest first."""
        return [e for e in self._t.wallet_entries if e.msisdn == msisdn]


class MemoryVoucherRepository:
    """``ports.VoucherRepository`` over :class:`PaymentTables`."""

    def __init__(self, tables: PaymentTables) -> None:
        self._t = tables

    async def add(self, voucher: Voucher) -> int:
        """Store a voucher; returns its id."""
        for other in self._t.vouchers.values():
            if voucher.serial == other.serial or voucher.pin_hash == other.pin_hash:
                raise DuplicateRowError(f"voucher {voucher.serial} repeats a serial or PIN")
        voucher_id = len(self._t.vouchers) + 1
        self._t.vouchers[voucher_id] = replace(voucher, id=voucher_id)
        return voucher_id

    async def get_by_pin_hash(self, pin_hash: str) -> Voucher | None:
        """The voucher whose PIN hashes to ``pin_hash``."""
        found = [v for v in self._t.vouchers.values() if v.pin_hash == pin_hash]
        return found[0] if found else None

    async def get_by_payment(self, payment_id: str) -> Voucher | None:
        """The voucher a payment redeemed."""
        found = [v for v in self._t.vouchers.values() if v.payment_id == payment_id]
        return found[0] if found else None

    async def redeem(self, voucher_id: int, *, msisdn: str, payment_id: str, at: datetime) -> bool:
        """Redeem an ACTIVE voucher; False if it is not active."""
        voucher = self._t.vouchers.get(voucher_id)
        if voucher is None or voucher.status is not VoucherStatus.ACTIVE:
            return False
        self._t.vouchers[voucher_id] = replace(
            voucher,
            status=VoucherStatus.REDEEMED,
            redeemed_at=at,
            redeemed_by=msisdn,
            payment_id=payment_id,
        )
        return True

    async def add_attempt(self, msisdn: str, at: datetime, *, ok: bool) -> None:
        """Record a PIN attempt."""
        self._t.attempts.append((msisdn, at, ok))

    async def failures_since(self, msisdn: str, since: datetime) -> list[datetime]:
        """Failed attempt times since ``since``, oldest first."""
        return sorted(t for m, t, ok in self._t.attempts if m == msisdn and not ok and t >= since)

    async def add_many(self, vouchers: Sequence[Voucher]) -> None:
        """Store the cards; DuplicateRowError (nothing stored) if a serial or PIN repeats."""
        serials = {v.serial for v in self._t.vouchers.values()}
        hashes = {v.pin_hash for v in self._t.vouchers.values()}
        for voucher in vouchers:
            if voucher.serial in serials or voucher.pin_hash in hashes:
                raise DuplicateRowError(f"voucher {voucher.serial} repeats a serial or PIN")
            serials.add(voucher.serial)
            hashes.add(voucher.pin_hash)
        for voucher in vouchers:
            voucher_id = len(self._t.vouchers) + 1
            self._t.vouchers[voucher_id] = replace(voucher, id=voucher_id)

    async def batches(self, *, limit: int, offset: int) -> list[VoucherBatch]:
        """A page of batch summaries, oldest batch (lowest first id) first."""
        names = list(dict.fromkeys(v.batch for v in self._t.vouchers.values()))
        return [_summary(self._cards(name)) for name in names[offset : offset + limit]]

    async def batch(self, batch: str) -> VoucherBatch | None:
        """One batch's summary; None if it has no card."""
        cards = self._cards(batch)
        return _summary(cards) if cards else None

    async def in_batch(self, batch: str, *, limit: int, offset: int) -> list[Voucher]:
        """A page of the batch's cards by serial."""
        cards = sorted(self._cards(batch), key=lambda v: v.serial)
        return cards[offset : offset + limit]

    async def void_batch(self, batch: str) -> int:
        """Make the batch's ACTIVE cards VOID; how many changed."""
        changed = 0
        for voucher_id, voucher in list(self._t.vouchers.items()):
            if voucher.batch == batch and voucher.status is VoucherStatus.ACTIVE:
                self._t.vouchers[voucher_id] = replace(voucher, status=VoucherStatus.VOID)
                changed += 1
        return changed

    def _cards(self, batch: str) -> list[Voucher]:
        return [v for v in self._t.vouchers.values() if v.batch == batch]


def _summary(cards: list[Voucher]) -> VoucherBatch:
    """What the SQL ``GROUP BY`` computes, over one batch's (non-empty) cards."""

    def count(status: VoucherStatus) -> int:
        return sum(1 for v in cards if v.status is status)

    def value(status: VoucherStatus) -> int:
        return sum(v.face_value for v in cards if v.status is status)

    return VoucherBatch(
        batch=cards[0].batch,
        currency=min(v.currency for v in cards),
        face_value=min(v.face_value for v in cards),
        count=len(cards),
        active=count(VoucherStatus.ACTIVE),
        redeemed=count(VoucherStatus.REDEEMED),
        void=count(VoucherStatus.VOID),
        total_value=sum(v.face_value for v in cards),
        active_value=value(VoucherStatus.ACTIVE),
        redeemed_value=value(VoucherStatus.REDEEMED),
        created_at=min(v.created_at for v in cards),
    )
