"""In-memory twin of :class:`~vending_core.service.ledger_ports.LedgerAuditRepository`.

Computes over the memory database's tables what the SQL adapter
(:mod:`vending_core.adapters.ledger_audit_sql`) asks the database for, with the same counts,
the same example order and the same ``limit``. Memory tokens live inside their vend, so no
token can be filed under another meter: ``misfiled_tokens`` only counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from vending_core.domain.model import Vendor
from vending_core.domain.payments import Payment
from vending_core.domain.records import Vend, VendorEntry
from vending_core.service.ledger_ports import (
    SUCCESSFUL_PAYMENT_STATES,
    Findings,
    LedgerBreach,
    MisfiledToken,
    PaymentVendBreach,
    TidBreach,
    TokenSetBreach,
    VendTokens,
)

__all__ = ["LedgerSources", "MemoryLedgerAudit"]


@dataclass(frozen=True, slots=True)
class LedgerSources:
    """Where the memory rows are (read at each call: the unit of work's current copy)."""

    vends: Callable[[], dict[int, Vend]]
    payments: Callable[[], dict[str, Payment]]
    vendors: Callable[[], dict[int, Vendor]]
    vendor_entries: Callable[[], list[VendorEntry]]


def _successful(status: str | None) -> bool:
    return status in SUCCESSFUL_PAYMENT_STATES


class MemoryLedgerAudit:
    """``ledger_ports.LedgerAuditRepository`` over the memory tables."""

    def __init__(self, sources: LedgerSources) -> None:
        self._s = sources

    def _payment_vends(self, client_id: str) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for vend_id, vend in sorted(self._s.vends().items()):
            if vend.client_id == client_id:
                found[vend.request_id].append(vend_id)
        return found

    async def payment_vends(self, client_id: str, *, limit: int) -> Findings[PaymentVendBreach]:
        """As the SQL adapter: breaches by payment id, then orphan vends by request id."""
        payments, vends = self._s.payments(), self._payment_vends(client_id)
        successful = [p for p in payments.values() if _successful(p.status.value)]
        breaches = [
            _breach(p.id, p, vends.get(p.id, []))
            for p in sorted(successful, key=lambda p: p.id)
            if _wrong(p, vends.get(p.id, []))
        ]
        orphans = [
            _breach(request_id, payments.get(request_id), ids)
            for request_id, ids in sorted(vends.items())
            if request_id not in payments or not _successful(payments[request_id].status.value)
        ]
        found = breaches + orphans
        return Findings(len(successful), len(found), tuple(found[:limit]))

    async def paid_awaiting_vend(self, client_id: str) -> int:
        """Paid payments with no vend (yet)."""
        vends = self._payment_vends(client_id)
        return sum(
            1 for p in self._s.payments().values() if p.status.value == "paid" and p.id not in vends
        )

    async def token_sets(self, *, limit: int) -> Findings[TokenSetBreach]:
        """Vends without tokens, or with tokens not numbered 1..n."""
        vends = sorted(self._s.vends().items())
        found = []
        for vend_id, vend in vends:
            sequences = [token.sequence for token in vend.tokens]
            if sequences and min(sequences) == 1 and max(sequences) == len(sequences):
                continue
            found.append(
                TokenSetBreach(
                    vend_id=vend_id,
                    kind=vend.kind.value,
                    meter_number=vend.meter_number,
                    tokens=len(sequences),
                    first_sequence=min(sequences, default=None),
                    last_sequence=max(sequences, default=None),
                )
            )
        return Findings(len(vends), len(found), tuple(found[:limit]))

    async def duplicate_tids(self, *, limit: int) -> Findings[TidBreach]:
        """(meter, TID) pairs of more than one token."""
        users: dict[tuple[int, int], list[Vend]] = defaultdict(list)
        for _, vend in sorted(self._s.vends().items()):
            for token in vend.tokens:
                if token.tid is not None:
                    users[vend.meter_id, token.tid].append(vend)
        found = [
            TidBreach(
                meter_id=meter_id,
                meter_number=min(v.meter_number for v in group),
                tid=tid,
                tokens=len(group),
                first_vend_id=min(_ids(group)),
                last_vend_id=max(_ids(group)),
            )
            for (meter_id, tid), group in sorted(users.items())
            if len(group) > 1
        ]
        checked = sum(len(group) for group in users.values())
        return Findings(checked, len(found), tuple(found[:limit]))

    async def misfiled_tokens(self, *, limit: int) -> Findings[MisfiledToken]:
        """Memory tokens belong to their vend: none is misfiled."""
        return Findings(sum(len(v.tokens) for v in self._s.vends().values()), 0)

    async def vendor_ledgers(self, *, limit: int) -> Findings[LedgerBreach]:
        """Broken entry chains, then balances that are not the last entry's."""
        vendors = self._s.vendors()
        entries: dict[int, list[VendorEntry]] = defaultdict(list)
        for entry in self._s.vendor_entries():
            entries[entry.vendor_id].append(entry)
        found: list[LedgerBreach] = []
        for vendor_id, ledger in entries.items():
            vendor = vendors.get(vendor_id)
            if vendor is not None:
                found += _ledger_breaches(vendor, ledger)
        found.sort(key=lambda b: (b.vendor_code, b.entry is None, b.entry or 0))
        return Findings(len(vendors), len(found), tuple(found[:limit]))

    async def vend_page(self, *, after: int, limit: int) -> list[VendTokens]:
        """The next ``limit`` vends after ``after``, with their tokens."""
        page = sorted((i, v) for i, v in self._s.vends().items() if i > after)[:limit]
        return [
            VendTokens(
                vend_id=vend_id,
                meter_id=vend.meter_id,
                meter_number=vend.meter_number,
                kind=vend.kind.value,
                tokens=tuple(sorted(vend.tokens, key=lambda t: t.sequence)),
            )
            for vend_id, vend in page
        ]


def _ids(vends: Iterable[Vend]) -> list[int]:
    return [vend.id for vend in vends if vend.id is not None]


def _wrong(payment: Payment, vend_ids: list[int]) -> bool:
    if payment.status.value == "paid":
        return len(vend_ids) > 1
    return len(vend_ids) != 1 or payment.vend_id is None or payment.vend_id != min(vend_ids)


def _breach(payment_id: str, payment: Payment | None, vend_ids: list[int]) -> PaymentVendBreach:
    return PaymentVendBreach(
        payment_id=payment_id,
        status=None if payment is None else payment.status.value,
        recorded_vend_id=None if payment is None else payment.vend_id,
        vends=len(vend_ids),
        first_vend_id=min(vend_ids, default=None),
    )


def _ledger_breaches(vendor: Vendor, ledger: list[VendorEntry]) -> list[LedgerBreach]:
    found = [
        LedgerBreach(
            vendor_code=vendor.code,
            entry=position,
            expected=previous.balance_after + entry.amount,
            found=entry.balance_after,
        )
        for position, (previous, entry) in enumerate(pairwise(ledger), start=2)
        if previous.balance_after + entry.amount != entry.balance_after
    ]
    if ledger[-1].balance_after != vendor.balance:
        found.append(
            LedgerBreach(
                vendor_code=vendor.code,
                entry=None,
                expected=ledger[-1].balance_after,
                found=vendor.balance,
            )
        )
    return found
