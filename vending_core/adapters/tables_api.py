"""The partner API clients table on the shared :data:`~vending_core.adapters.tables.metadata`.

Registered by the import at the end of :mod:`vending_core.adapters.tables`; created by the
Alembic revision ``0005``. ``key_id`` (public) is the primary key; ``vendor_code`` references
the vendor whose float the client sells from. ``sealed_secret`` is the hex of the AES-GCM
nonce, ciphertext and tag of the HMAC secret (:mod:`vending_core.adapters.api_secrets`);
``allowed_ips`` is a comma-separated list of addresses or CIDR networks (empty: any).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table, Text

from vending_core.adapters.tables import UtcDateTime, metadata

__all__ = ["api_clients"]

api_clients = Table(
    "api_clients",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("vendor_code", String(32), ForeignKey("vendors.code"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("sealed_secret", String(256), nullable=False),
    Column("allowed_ips", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "vendor_code"),
)
