"""The back-office tables on the shared :data:`~vending_core.adapters.tables.metadata`.

Registered by the import at the end of :mod:`vending_core.adapters.tables`; created by the
Alembic revision ``0006``. ``admin_users`` holds staff with their level (1 operator .. 4
administrator), scrypt password hash, lockout state, IP allow-list (comma-separated, empty:
any) and scopes (a JSON list of route-name patterns, added by ``0009``; empty: every route of
the level); ``admin_sessions`` holds the SHA-256 of bearer tokens and API keys (never the
secret); ``audit_log`` is append-only (the repository has no update or delete for it).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from vending_core.adapters.tables import UtcDateTime, metadata, vends

__all__ = ["admin_sessions", "admin_users", "audit_log"]

_IdType = BigInteger().with_variant(Integer(), "sqlite")  # as tables._Id
_JsonType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", _IdType, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("level", SmallInteger, nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("area", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("allowed_ips", Text, nullable=False),
    Column("created_by", _IdType, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Route-name patterns the user is limited to (a JSON list; empty: every route of the
    # level). Added by revision 0009; the server default fills the rows that existed before.
    Column("scopes", _JsonType, nullable=False, server_default=text("'[]'")),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", _IdType, ForeignKey("admin_users.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Index(None, "user_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _IdType, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("user_id", _IdType, nullable=True),
    Column("remote", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("before", _JsonType, nullable=True),
    Column("after", _JsonType, nullable=True),
    Index(None, "at"),
    Index(None, "user_id", "at"),
)

# The sales report filters vends by period (GROUP BY in the database over this range).
Index("ix_vends_created_at", vends.c.created_at)
