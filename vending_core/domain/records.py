"""What the core writes down, as plain values (no I/O).

Vends and their tokens, stored responses, meter events, vendor ledger entries and
maintenance requests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "IssuedToken",
    "MaintenanceRequest",
    "MaintenanceStatus",
    "MeterEvent",
    "StoredResponse",
    "TokenKind",
    "Vend",
    "VendKind",
    "VendStatus",
    "VendorEntry",
]


class VendKind(enum.StrEnum):
    """What a vend (one ledger transaction) was for."""

    CREDIT = "credit"  #: a paid purchase (may carry an FBE token too)
    FREE_BASIC = "free_basic"  #: FBE claimed on its own
    ENGINEERING = "engineering"  #: clear credit/tamper, power limits (no money)
    KEY_CHANGE = "key_change"  #: a key change token set (no money)


class VendStatus(enum.StrEnum):
    """A vend's state: sales are final unless reversed before use."""

    COMPLETED = "completed"
    REVERSED = "reversed"


class TokenKind(enum.StrEnum):
    """What one issued token does."""

    CREDIT = "credit"
    FREE_BASIC = "free_basic"
    KEY_CHANGE = "key_change"
    CLEAR_CREDIT = "clear_credit"
    CLEAR_TAMPER = "clear_tamper"
    SET_POWER_LIMIT = "set_power_limit"
    SET_PHASE_UNBALANCE_LIMIT = "set_phase_unbalance_limit"


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    """One 20-digit token of a vend, in the order the customer must enter it."""

    sequence: int
    kind: TokenKind
    token: str
    tid: int | None = None  #: None for key change tokens
    tenths: int | None = None  #: units credited (credit and FBE tokens)
    description: str = ""


@dataclass(slots=True, kw_only=True)
class Vend:
    """One ledger transaction: who sold what to which meter, the split and the tokens."""

    id: int | None = None
    client_id: str
    request_id: str
    kind: VendKind
    meter_id: int
    meter_number: str
    channel: str
    vendor_code: str | None = None
    operator: str | None = None
    gross: int = 0
    commission: int = 0
    breakdown: dict[str, Any] | None = None  #: Breakdown.to_dict() for priced vends
    tariff_code: str | None = None
    tariff_version: int | None = None
    status: VendStatus = VendStatus.COMPLETED
    created_at: datetime
    reversed_at: datetime | None = None
    reversal_reason: str | None = None
    reversed_by: str | None = None
    tokens: tuple[IssuedToken, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredResponse:
    """The response stored under an idempotency key, replayed byte for byte."""

    client_id: str
    request_id: str
    fingerprint: str  #: hash of the request: the same key with another request is refused
    response: str | None  #: JSON text; None while the first request is still running
    vend_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterEvent:
    """Installation history and status changes of a meter (who, when, why)."""

    meter_id: int
    at: datetime
    kind: str  #: installed, blocked, unblocked, key_changed, ...
    detail: str = ""
    actor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorEntry:
    """An append-only movement of a vendor's float (sale negative, top-up positive)."""

    vendor_id: int
    at: datetime
    amount: int
    balance_after: int
    kind: str  #: sale, reversal, top_up, commission
    vend_id: int | None = None


class MaintenanceStatus(enum.StrEnum):
    """Where a maintenance request stands."""

    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


@dataclass(slots=True, kw_only=True)
class MaintenanceRequest:
    """A fault reported for a meter, and what was done about it."""

    id: int | None = None
    meter_id: int
    description: str
    reported_by: str | None = None
    opened_at: datetime
    status: MaintenanceStatus = MaintenanceStatus.OPEN
    engineer: str | None = None
    solution: str | None = None
    resolved_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
