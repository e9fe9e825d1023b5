"""Messaging tables on the shared :data:`~vending_core.adapters.tables.metadata`.

* ``sms_outbox``: every outbound SMS, with its delivery state (the row's life is told in
  :class:`~vending_core.service.messaging_records.OutboxStatus`). ``dedupe_key`` is unique,
  so one vend's token SMS is enqueued once however often the vend is replayed; the index on
  ``(status, next_attempt_at)`` serves the dispatcher's claim, the unique index on
  ``(provider, provider_message_id)`` the delivery reports.
* ``sms_delivery_reports``: delivery reports that arrived before the send they report on was
  recorded (or for ids we never sent); applied when the send is recorded.
* ``phone_profiles`` and ``saved_meters``: a phone's language and its saved meters (at most
  ten, enforced by the use case under the profile row's lock).

``vending_core.adapters.tables`` imports this module at its end, so importing either one
registers every table on the metadata (Alembic, the test fixtures' ``TRUNCATE``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from vending_core.adapters.tables import UtcDateTime, metadata

__all__ = ["phone_profiles", "saved_meters", "sms_delivery_reports", "sms_outbox"]

_Id = BigInteger().with_variant(Integer(), "sqlite")

sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(128), nullable=False),
    Column("msisdn", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("provider", String(32), nullable=True),
    Column("provider_message_id", String(128), nullable=True),
    Column("provider_status", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("dedupe_key"),
    UniqueConstraint("provider", "provider_message_id"),
    Index(None, "status", "next_attempt_at"),
)

sms_delivery_reports = Table(
    "sms_delivery_reports",
    metadata,
    Column("provider", String(32), nullable=False),
    Column("provider_message_id", String(128), nullable=False),
    Column("status", String(64), nullable=False),
    Column("failure_reason", String(128), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("provider", "provider_message_id"),
)

phone_profiles = Table(
    "phone_profiles",
    metadata,
    Column("msisdn", String(20), primary_key=True),
    Column("language", String(8), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

saved_meters = Table(
    "saved_meters",
    metadata,
    Column("msisdn", String(20), nullable=False),
    Column("meter_number", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("position", SmallInteger, nullable=False),
    PrimaryKeyConstraint("msisdn", "meter_number"),
)
