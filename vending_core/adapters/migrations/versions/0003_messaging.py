"""Messaging: the SMS outbox, held delivery reports, phone profiles and saved meters.

A frozen snapshot written out in full (it does not import ``tables_messaging.py``). Types as
in ``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)`` in the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four messaging tables."""
    _create_sms_outbox()
    _create_sms_delivery_reports()
    _create_phone_profiles()
    _create_saved_meters()


def _create_sms_outbox() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("provider_status", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_outbox_dedupe_key")),
        sa.UniqueConstraint(
            "provider",
            "provider_message_id",
            name=op.f("uq_sms_outbox_provider_provider_message_id"),
        ),
    )
    op.create_index(
        op.f("ix_sms_outbox_status_next_attempt_at"),
        "sms_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )


def _create_sms_delivery_reports() -> None:
    op.create_table(
        "sms_delivery_reports",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("failure_reason", sa.String(128), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint(
            "provider", "provider_message_id", name=op.f("pk_sms_delivery_reports")
        ),
    )


def _create_phone_profiles() -> None:
    op.create_table(
        "phone_profiles",
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_phone_profiles")),
    )


def _create_saved_meters() -> None:
    op.create_table(
        "saved_meters",
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("meter_number", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", "meter_number", name=op.f("pk_saved_meters")),
    )


def downgrade() -> None:
    """Drop the messaging tables (their indexes go with them)."""
    for table in ("saved_meters", "phone_profiles", "sms_delivery_reports", "sms_outbox"):
        op.drop_table(table)
