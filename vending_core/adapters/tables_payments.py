"""Payment tables on the schema's :data:`~vending_core.adapters.tables.metadata`.

Registered by the import at the end of :mod:`vending_core.adapters.tables`; created by the
Alembic revision ``0002``. Conventions as in ``tables.py`` (money ``BigInteger``, aware UTC
times, enums by value, JSON payloads). The unique keys make the exactly-once rules the
database's job: one payment per purchase request ``(client_id, request_id)``, one per
provider reference and one per provider receipt; one wallet entry per ``reference`` (a
payment's debit); one voucher per serial and per PIN hash.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from vending_core.adapters.tables import UtcDateTime, metadata

__all__ = [
    "payment_events",
    "payments",
    "voucher_attempts",
    "vouchers",
    "wallet_entries",
    "wallets",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")
_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _id() -> Column[int]:
    return Column("id", _ID, primary_key=True, autoincrement=True)


def _text(name: str, length: int, *, nullable: bool = False) -> Column[Any]:
    return Column(name, String(length), nullable=nullable)


payments = Table(
    "payments",
    metadata,
    Column("id", String(32), primary_key=True),
    _text("provider", 32),
    _text("provider_reference", 128, nullable=True),
    _text("msisdn", 20),
    _text("meter_number", 32),
    Column("amount", BigInteger, nullable=False),
    _text("currency", 3),
    _text("channel", 16),
    _text("client_id", 128),
    _text("request_id", 128),
    _text("status", 16),
    _text("receipt", 64, nullable=True),
    Column("reason", Text, nullable=False),
    Column("vend_id", _ID, ForeignKey("vends.id"), nullable=True),
    _text("vend_error", 64, nullable=True),
    Column("vend_attempts", Integer, nullable=False),
    Column("raw", _JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    UniqueConstraint("client_id", "request_id"),
    UniqueConstraint("provider", "provider_reference"),
    UniqueConstraint("provider", "receipt"),
    Index(None, "status", "created_at"),
)

payment_events = Table(
    "payment_events",
    metadata,
    _id(),
    Column("payment_id", String(32), ForeignKey("payments.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    _text("kind", 16),
    _text("status", 16),
    _text("outcome", 16, nullable=True),
    Column("amount", BigInteger, nullable=True),
    _text("receipt", 64, nullable=True),
    Column("detail", Text, nullable=False),
    Column("raw", _JSON, nullable=False),
    Index(None, "payment_id", "id"),
)

wallets = Table(
    "wallets",
    metadata,
    Column("msisdn", String(20), primary_key=True),
    _text("currency", 3),
    Column("balance", BigInteger, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
)

wallet_entries = Table(
    "wallet_entries",
    metadata,
    _id(),
    Column("msisdn", String(20), ForeignKey("wallets.msisdn"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    _text("kind", 16),
    _text("reference", 128),
    UniqueConstraint("reference"),
    Index(None, "msisdn", "id"),
)

vouchers = Table(
    "vouchers",
    metadata,
    _id(),
    _text("serial", 32),
    _text("pin_hash", 64),
    Column("face_value", BigInteger, nullable=False),
    _text("currency", 3),
    _text("batch", 64),
    _text("status", 16),
    Column("created_at", UtcDateTime, nullable=False),
    Column("redeemed_at", UtcDateTime, nullable=True),
    _text("redeemed_by", 20, nullable=True),
    Column("payment_id", String(32), nullable=True),
    UniqueConstraint("serial"),
    UniqueConstraint("pin_hash"),
)

voucher_attempts = Table(
    "voucher_attempts",
    metadata,
    _id(),
    _text("msisdn", 20),
    Column("at", UtcDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Index(None, "msisdn", "at"),
)
