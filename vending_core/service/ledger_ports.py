"""The read-only queries behind ``vendgate check-ledger`` (``service.ledger_check``).

:class:`LedgerAuditRepository` is one more repository of the unit of work
(``uow.ledger_audit``). Each method answers one invariant of the ledger with aggregates the
database computes itself (SQL ``GROUP BY``/``HAVING`` and window functions; the memory twin
computes the same in Python): how many rows it looked at, how many break the invariant, and
the first ``limit`` of those, ordered so the answer is the same on every backend. Nothing is
ever written.

Ids are the database's own; a vendor ledger entry is named by its position in the vendor's
ledger (1 = oldest), which is the same on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from vending_core.domain.records import IssuedToken

__all__ = [
    "SUCCESSFUL_PAYMENT_STATES",
    "Findings",
    "LedgerAuditRepository",
    "LedgerBreach",
    "MisfiledToken",
    "PaymentVendBreach",
    "TidBreach",
    "TokenSetBreach",
    "VendTokens",
]

_T = TypeVar("_T")

#: The payment states in which money was taken and a vend is owed.
SUCCESSFUL_PAYMENT_STATES = ("paid", "vended")


@dataclass(frozen=True, slots=True)
class Findings(Generic[_T]):
    """One invariant's answer: rows checked, rows breaking it, the first few of those."""

    checked: int
    violations: int
    examples: tuple[_T, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentVendBreach:
    """A payment whose vends do not match its state (``status`` None: no such payment).

    Breaches: a vended payment without exactly one vend, or whose recorded ``vend_id`` is not
    that vend; a paid payment with more than one vend; vends made for a payment that is not
    paid/vended, or that does not exist.
    """

    payment_id: str
    status: str | None
    recorded_vend_id: int | None
    vends: int
    first_vend_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSetBreach:
    """A vend without tokens, or whose tokens are not numbered 1..n."""

    vend_id: int
    kind: str
    meter_number: str
    tokens: int
    first_sequence: int | None
    last_sequence: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TidBreach:
    """A TID carried by more than one token of one meter (the meter of the tokens' vends)."""

    meter_id: int
    meter_number: str
    tid: int
    tokens: int
    first_vend_id: int
    last_vend_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MisfiledToken:
    """A token row whose ``meter_id`` is not its vend's: the unique TID index cannot see it."""

    vend_id: int
    sequence: int
    vend_meter_id: int
    token_meter_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerBreach:
    """A vendor ledger that does not add up.

    ``entry`` is the position of the entry (1 = oldest) whose ``balance_after`` is not the
    previous entry's plus its amount; None when the vendor's balance is not its last entry's
    ``balance_after``. ``expected`` is what it should be, ``found`` what is stored.
    """

    vendor_code: str
    entry: int | None
    expected: int
    found: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VendTokens:
    """A vend with its stored tokens (sequence order), for the token check."""

    vend_id: int
    meter_id: int
    meter_number: str
    kind: str
    tokens: tuple[IssuedToken, ...]


class LedgerAuditRepository(Protocol):
    """Read-only invariant queries; ``limit`` caps the examples, never the counts."""

    async def payment_vends(self, client_id: str, *, limit: int) -> Findings[PaymentVendBreach]:
        """Payments against their vends (``client_id``'s vends, request id = payment id).

        ``checked``: paid and vended payments.
        """
        ...

    async def paid_awaiting_vend(self, client_id: str) -> int:
        """Paid payments with no vend yet (the paid-not-vended retry queue; not a breach)."""
        ...

    async def token_sets(self, *, limit: int) -> Findings[TokenSetBreach]:
        """Vends without tokens or with a gap in their sequences. ``checked``: vends."""
        ...

    async def duplicate_tids(self, *, limit: int) -> Findings[TidBreach]:
        """(meter, TID) pairs used more than once. ``checked``: tokens with a TID."""
        ...

    async def misfiled_tokens(self, *, limit: int) -> Findings[MisfiledToken]:
        """Tokens filed under another meter than their vend's. ``checked``: tokens."""
        ...

    async def vendor_ledgers(self, *, limit: int) -> Findings[LedgerBreach]:
        """Broken links of the vendors' entry chains and balances unlike the last entry.

        Ordered by vendor code, then entry (the balance last). ``checked``: vendors.
        """
        ...

    async def vend_page(self, *, after: int, limit: int) -> list[VendTokens]:
        """Up to ``limit`` vends with id > ``after``, by id, each with its tokens."""
        ...
