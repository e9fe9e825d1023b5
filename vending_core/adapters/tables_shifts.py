"""The ``shifts`` table on the shared :data:`~vending_core.adapters.tables.metadata`.

Registered by the import at the end of :mod:`vending_core.adapters.tables`; created by the
Alembic revision ``0007``. A shift belongs to a vending point (``vendor_code``, a vendor's
code); the partial unique index ``uq_shifts_vendor_code_open`` (``WHERE status = 'open'``, on
SQLite and PostgreSQL alike) lets the database itself refuse a second open shift of one
vending point. ``opened_by`` / ``closed_by`` are usernames, like ``vends.operator``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, text

from vending_core.adapters.tables import UtcDateTime, metadata

__all__ = ["OPEN_SHIFT_WHERE", "shifts"]

_IdType = BigInteger().with_variant(Integer(), "sqlite")  # as tables._Id
#: The predicate of the partial unique index (and of ``ON CONFLICT`` against it).
OPEN_SHIFT_WHERE = text("status = 'open'")

shifts = Table(
    "shifts",
    metadata,
    Column("id", _IdType, primary_key=True, autoincrement=True),
    Column("vendor_code", String(32), nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_by", String(64), nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Index(None, "vendor_code", "id"),
)
Index(
    "uq_shifts_vendor_code_open",
    shifts.c.vendor_code,
    unique=True,
    sqlite_where=OPEN_SHIFT_WHERE,
    postgresql_where=OPEN_SHIFT_WHERE,
)
