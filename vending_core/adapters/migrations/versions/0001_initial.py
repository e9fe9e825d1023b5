"""Initial vending schema: master data, vends with their tokens, idempotency keys, key store.

A frozen snapshot written out in full (it does not import ``tables.py``, which moves on with
later revisions). Types as in ``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)``
and ``ExactDecimal`` is ``String(40)`` in the database.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_TIME = sa.DateTime(timezone=True)
_DECIMAL = sa.String(40)
_MONEY = sa.BigInteger()


def _id() -> sa.Column[int]:
    return sa.Column("id", _ID, autoincrement=True, nullable=False)


def _ref(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, _ID, nullable=nullable)


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".", 1)[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{target_table}")
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    """Create every table of the vending schema (referenced tables first)."""
    for create in (
        _create_supply_groups,
        _create_vending_keys,
        _create_tariffs,
        _create_customers,
        _create_vendors,
        _create_meters,
        _create_meter_events,
        _create_debts,
        _create_maintenance_requests,
        _create_vends,
        _create_vend_tokens,
        _create_vendor_entries,
        _create_requests,
    ):
        create()


def _create_supply_groups() -> None:
    op.create_table(
        "supply_groups",
        sa.Column("sgc", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("key_ref", sa.String(64), nullable=False),
        sa.Column("dkga", sa.SmallInteger(), nullable=False),
        sa.Column("key_revision", sa.SmallInteger(), nullable=False),
        sa.Column("base_date", sa.SmallInteger(), nullable=False),
        _pk("supply_groups", "sgc"),
    )


def _create_vending_keys() -> None:
    op.create_table(
        "vending_keys",
        sa.Column("key_ref", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("tag", sa.LargeBinary(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        _pk("vending_keys", "key_ref"),
    )


def _create_tariffs() -> None:
    op.create_table(
        "tariffs",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("utility", sa.SmallInteger(), nullable=False),
        sa.Column("blocks", _JSON, nullable=False),
        sa.Column("vat_rate", _DECIMAL, nullable=False),
        sa.Column("fixed_charge_amount", _MONEY, nullable=True),
        sa.Column("fixed_charge_period", sa.String(8), nullable=True),
        sa.Column("service_charge", _MONEY, nullable=False),
        sa.Column("min_purchase", _MONEY, nullable=False),
        sa.Column("max_purchase", _MONEY, nullable=True),
        sa.Column("fbe_monthly_tenths", sa.BigInteger(), nullable=False),
        sa.Column("fbe_counts_toward_blocks", sa.Boolean(), nullable=False),
        _pk("tariffs", "code", "version"),
    )


def _create_customers() -> None:
    op.create_table(
        "customers",
        _id(),
        sa.Column("account_number", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phones", _JSON, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        _pk("customers", "id"),
        sa.UniqueConstraint("account_number", name=op.f("uq_customers_account_number")),
    )


def _create_vendors() -> None:
    op.create_table(
        "vendors",
        _id(),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("balance", _MONEY, nullable=False),
        sa.Column("credit_limit", _MONEY, nullable=False),
        sa.Column("commission", _DECIMAL, nullable=False),
        sa.Column("allowed_sgcs", _JSON, nullable=False),
        _pk("vendors", "id"),
        sa.UniqueConstraint("code", name=op.f("uq_vendors_code")),
    )


def _create_meters() -> None:
    op.create_table(
        "meters",
        _id(),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("pan", sa.String(18), nullable=False),
        sa.Column("utility", sa.SmallInteger(), nullable=False),
        sa.Column("sgc", sa.String(16), nullable=False),
        sa.Column("ti", sa.SmallInteger(), nullable=False),
        sa.Column("krn", sa.SmallInteger(), nullable=False),
        sa.Column("kt", sa.SmallInteger(), nullable=False),
        sa.Column("ken", sa.SmallInteger(), nullable=False),
        sa.Column("base_date", sa.SmallInteger(), nullable=False),
        sa.Column("ea", sa.SmallInteger(), nullable=False),
        sa.Column("dkga", sa.SmallInteger(), nullable=False),
        sa.Column("tariff_code", sa.String(32), nullable=False),
        _ref("customer_id", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.Column("fbe_registered", sa.Boolean(), nullable=False),
        sa.Column("last_tid", sa.Integer(), nullable=True),
        sa.Column("month", sa.String(7), nullable=True),
        sa.Column("month_tenths", sa.BigInteger(), nullable=False),
        sa.Column("charged_up_to", sa.Date(), nullable=True),
        sa.Column("charges_owing", _MONEY, nullable=False),
        sa.Column("last_fbe_month", sa.String(7), nullable=True),
        sa.Column("last_purchase_at", _TIME, nullable=True),
        sa.Column("installed_at", _TIME, nullable=True),
        _fk("customer_id", "customers.id", "meters"),
        _fk("sgc", "supply_groups.sgc", "meters"),
        _pk("meters", "id"),
        sa.UniqueConstraint("number", name=op.f("uq_meters_number")),
        sa.UniqueConstraint("pan", name=op.f("uq_meters_pan")),
    )
    _index("meters", "customer_id")


def _create_meter_events() -> None:
    op.create_table(
        "meter_events",
        _id(),
        _ref("meter_id"),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        _fk("meter_id", "meters.id", "meter_events"),
        _pk("meter_events", "id"),
    )
    _index("meter_events", "meter_id", "id")


def _create_debts() -> None:
    op.create_table(
        "debts",
        _id(),
        _ref("meter_id", nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("outstanding", _MONEY, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("value", _DECIMAL, nullable=False),
        sa.Column("taxed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=True),
        _fk("meter_id", "meters.id", "debts"),
        _pk("debts", "id"),
    )
    _index("debts", "meter_id", "id")


def _create_maintenance_requests() -> None:
    op.create_table(
        "maintenance_requests",
        _id(),
        _ref("meter_id"),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=True),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("engineer", sa.String(64), nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.Column("resolved_at", _TIME, nullable=True),
        sa.Column("extra", _JSON, nullable=False),
        _fk("meter_id", "meters.id", "maintenance_requests"),
        _pk("maintenance_requests", "id"),
    )
    _index("maintenance_requests", "meter_id", "id")


def _create_vends() -> None:
    op.create_table(
        "vends",
        _id(),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ref("meter_id"),
        sa.Column("meter_number", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("vendor_code", sa.String(32), nullable=True),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("gross", _MONEY, nullable=False),
        sa.Column("commission", _MONEY, nullable=False),
        sa.Column("breakdown", _JSON, nullable=True),
        sa.Column("tariff_code", sa.String(32), nullable=True),
        sa.Column("tariff_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("reversed_at", _TIME, nullable=True),
        sa.Column("reversal_reason", sa.Text(), nullable=True),
        sa.Column("reversed_by", sa.String(64), nullable=True),
        _fk("meter_id", "meters.id", "vends"),
        _pk("vends", "id"),
    )
    _index("vends", "meter_id", "id")


def _create_vend_tokens() -> None:
    op.create_table(
        "vend_tokens",
        _ref("vend_id"),
        sa.Column("sequence", sa.SmallInteger(), nullable=False),
        _ref("meter_id"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("token", sa.String(20), nullable=False),
        sa.Column("tid", sa.Integer(), nullable=True),
        sa.Column("tenths", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        _fk("vend_id", "vends.id", "vend_tokens"),
        _fk("meter_id", "meters.id", "vend_tokens"),
        _pk("vend_tokens", "vend_id", "sequence"),
    )
    # The database itself refuses two tokens of one meter with the same TID.
    op.create_index(
        "uq_vend_tokens_meter_id_tid",
        "vend_tokens",
        ["meter_id", "tid"],
        unique=True,
        sqlite_where=sa.text("tid IS NOT NULL"),
        postgresql_where=sa.text("tid IS NOT NULL"),
    )


def _create_vendor_entries() -> None:
    op.create_table(
        "vendor_entries",
        _id(),
        _ref("vendor_id"),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("balance_after", _MONEY, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ref("vend_id", nullable=True),
        _fk("vendor_id", "vendors.id", "vendor_entries"),
        _fk("vend_id", "vends.id", "vendor_entries"),
        _pk("vendor_entries", "id"),
    )
    _index("vendor_entries", "vendor_id", "id")


def _create_requests() -> None:
    op.create_table(
        "requests",
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        _ref("vend_id", nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        _fk("vend_id", "vends.id", "requests"),
        _pk("requests", "client_id", "request_id"),
    )


_TABLES_NEWEST_FIRST = (
    "requests",
    "vendor_entries",
    "vend_tokens",
    "vends",
    "maintenance_requests",
    "debts",
    "meter_events",
    "meters",
    "vendors",
    "customers",
    "tariffs",
    "vending_keys",
    "supply_groups",
)


def downgrade() -> None:
    """Drop every table (their indexes go with them)."""
    for table in _TABLES_NEWEST_FIRST:
        op.drop_table(table)
