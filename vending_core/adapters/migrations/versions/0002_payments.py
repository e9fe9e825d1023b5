"""Payments: payment intents and their history, customer wallets, scratch-card vouchers.

A frozen snapshot written out in full (it does not import ``tables_payments.py``). Types as
in ``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)`` in the database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_TIME = sa.DateTime(timezone=True)
_MONEY = sa.BigInteger()


def _id() -> sa.Column[int]:
    return sa.Column("id", _ID, autoincrement=True, nullable=False)


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".", 1)[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{target_table}")
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    """Create the payment tables (referenced tables first)."""
    for create in (
        _create_payments,
        _create_payment_events,
        _create_wallets,
        _create_wallet_entries,
        _create_vouchers,
        _create_voucher_attempts,
    ):
        create()


def _create_payments() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_reference", sa.String(128), nullable=True),
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("meter_number", sa.String(32), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("receipt", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("vend_id", _ID, nullable=True),
        sa.Column("vend_error", sa.String(64), nullable=True),
        sa.Column("vend_attempts", sa.Integer(), nullable=False),
        sa.Column("raw", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        _fk("vend_id", "vends.id", "payments"),
        _pk("payments", "id"),
        _unique("payments", "client_id", "request_id"),
        _unique("payments", "provider", "provider_reference"),
        _unique("payments", "provider", "receipt"),
    )
    _index("payments", "status", "created_at")


def _create_payment_events() -> None:
    op.create_table(
        "payment_events",
        _id(),
        sa.Column("payment_id", sa.String(32), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("amount", _MONEY, nullable=True),
        sa.Column("receipt", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", _JSON, nullable=False),
        _fk("payment_id", "payments.id", "payment_events"),
        _pk("payment_events", "id"),
    )
    _index("payment_events", "payment_id", "id")


def _create_wallets() -> None:
    op.create_table(
        "wallets",
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance", _MONEY, nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        _pk("wallets", "msisdn"),
    )


def _create_wallet_entries() -> None:
    op.create_table(
        "wallet_entries",
        _id(),
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("balance_after", _MONEY, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        _fk("msisdn", "wallets.msisdn", "wallet_entries"),
        _pk("wallet_entries", "id"),
        _unique("wallet_entries", "reference"),
    )
    _index("wallet_entries", "msisdn", "id")


def _create_vouchers() -> None:
    op.create_table(
        "vouchers",
        _id(),
        sa.Column("serial", sa.String(32), nullable=False),
        sa.Column("pin_hash", sa.String(64), nullable=False),
        sa.Column("face_value", _MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("batch", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("redeemed_at", _TIME, nullable=True),
        sa.Column("redeemed_by", sa.String(20), nullable=True),
        sa.Column("payment_id", sa.String(32), nullable=True),
        _pk("vouchers", "id"),
        _unique("vouchers", "serial"),
        _unique("vouchers", "pin_hash"),
    )


def _create_voucher_attempts() -> None:
    op.create_table(
        "voucher_attempts",
        _id(),
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        _pk("voucher_attempts", "id"),
    )
    _index("voucher_attempts", "msisdn", "at")


_TABLES_NEWEST_FIRST = (
    "voucher_attempts",
    "vouchers",
    "wallet_entries",
    "wallets",
    "payment_events",
    "payments",
)


def downgrade() -> None:
    """Drop the payment tables (their indexes go with them)."""
    for table in _TABLES_NEWEST_FIRST:
        op.drop_table(table)
