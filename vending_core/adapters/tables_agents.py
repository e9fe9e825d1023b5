"""The SMS agents table on the shared :data:`~vending_core.adapters.tables.metadata`.

Registered by the import at the end of :mod:`vending_core.adapters.tables`; created by the
Alembic revision ``0004``. ``msisdn`` (international digits) is the primary key, so one
phone is at most one agent; ``vendor_code`` references the vendor whose float the agent
sells from. ``pin_hash`` is the hex HMAC of the PIN (never the PIN itself).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from vending_core.adapters.tables import UtcDateTime, metadata

__all__ = ["agents"]

agents = Table(
    "agents",
    metadata,
    Column("msisdn", String(20), primary_key=True),
    Column("vendor_code", String(32), ForeignKey("vendors.code"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("pin_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failed_pins", Integer, nullable=False),
    Column("first_failed_at", UtcDateTime, nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "vendor_code"),
)
