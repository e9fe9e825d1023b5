"""The database schema as SQLAlchemy Core tables on one :data:`metadata`.

Core, not ORM: the repositories write explicit statements and convert rows to and from the
domain dataclasses themselves. Conventions:

* money, counters and energy tenths are integers (``BigInteger`` for money);
* ``Decimal`` values (tariff rates, VAT, commission, debt shares) are stored as their exact
  decimal text (:class:`ExactDecimal`): never a float, and the same on SQLite and PostgreSQL;
* times are :class:`UtcDateTime`: aware UTC in and out on both databases;
* enums are stored by value (``StrEnum`` as text, STS ``IntEnum`` as small integers);
* tuples and dicts are JSON (JSONB on PostgreSQL);
* constraint and index names follow :data:`NAMING_CONVENTION`, so migrations can name them.

``vend_tokens`` carries its vend's ``meter_id`` so the unique index
``uq_vend_tokens_meter_id_tid`` lets the database itself refuse two tokens of one meter with
the same TID, whichever process or vending point issued them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "NAMING_CONVENTION",
    "ExactDecimal",
    "UtcDateTime",
    "customers",
    "debts",
    "maintenance_requests",
    "metadata",
    "meter_events",
    "meters",
    "requests",
    "supply_groups",
    "tariffs",
    "vend_tokens",
    "vending_keys",
    "vendor_entries",
    "vendors",
    "vends",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that accepts only aware datetimes and returns aware UTC.

    SQLite stores the UTC wall time and hands back naive values; PostgreSQL stores
    ``timestamptz``. Either way the result is converted to ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store the UTC instant."""
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: times must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored instant as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as its exact text (``Decimal("0.15")`` is ``'0.15'``)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """Store the decimal's text; refuse floats and non-finite values."""
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"expected a finite Decimal, got {value!r}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Parse the stored text back into the same ``Decimal``."""
        return None if value is None else Decimal(value)


# Surrogate keys: BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the rowid alias
# that autoincrements.
_Id = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _id() -> Column[int]:
    return Column("id", _Id, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, *, nullable: bool = False) -> Column[Any]:
    return Column(name, _Id, ForeignKey(target), nullable=nullable)


supply_groups = Table(
    "supply_groups",
    metadata,
    Column("sgc", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("key_ref", String(64), nullable=False),
    Column("dkga", SmallInteger, nullable=False),
    Column("key_revision", SmallInteger, nullable=False),
    Column("base_date", SmallInteger, nullable=False),
)

vending_keys = Table(
    "vending_keys",
    metadata,
    Column("key_ref", String(64), primary_key=True),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("tag", LargeBinary(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

tariffs = Table(
    "tariffs",
    metadata,
    Column("code", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    Column("utility", SmallInteger, nullable=False),
    Column("blocks", _Json, nullable=False),
    Column("vat_rate", ExactDecimal, nullable=False),
    Column("fixed_charge_amount", BigInteger, nullable=True),
    Column("fixed_charge_period", String(8), nullable=True),
    Column("service_charge", BigInteger, nullable=False),
    Column("min_purchase", BigInteger, nullable=False),
    Column("max_purchase", BigInteger, nullable=True),
    Column("fbe_monthly_tenths", BigInteger, nullable=False),
    Column("fbe_counts_toward_blocks", Boolean, nullable=False),
    PrimaryKeyConstraint("code", "version"),
)

customers = Table(
    "customers",
    metadata,
    _id(),
    Column("account_number", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("address", Text, nullable=False),
    Column("phones", _Json, nullable=False),
    Column("language", String(8), nullable=False),
    UniqueConstraint("account_number"),
)

meters = Table(
    "meters",
    metadata,
    _id(),
    Column("number", String(32), nullable=False),
    Column("pan", String(18), nullable=False),
    Column("utility", SmallInteger, nullable=False),
    Column("sgc", String(16), ForeignKey("supply_groups.sgc"), nullable=False),
    Column("ti", SmallInteger, nullable=False),
    Column("krn", SmallInteger, nullable=False),
    Column("kt", SmallInteger, nullable=False),
    Column("ken", SmallInteger, nullable=False),
    Column("base_date", SmallInteger, nullable=False),
    Column("ea", SmallInteger, nullable=False),
    Column("dkga", SmallInteger, nullable=False),
    Column("tariff_code", String(32), nullable=False),
    _fk("customer_id", "customers.id", nullable=True),
    Column("status", String(16), nullable=False),
    Column("blocked_reason", Text, nullable=True),
    Column("fbe_registered", Boolean, nullable=False),
    Column("last_tid", Integer, nullable=True),
    Column("month", String(7), nullable=True),
    Column("month_tenths", BigInteger, nullable=False),
    Column("charged_up_to", Date, nullable=True),
    Column("charges_owing", BigInteger, nullable=False),
    Column("last_fbe_month", String(7), nullable=True),
    Column("last_purchase_at", UtcDateTime, nullable=True),
    Column("installed_at", UtcDateTime, nullable=True),
    UniqueConstraint("number"),
    UniqueConstraint("pan"),
    Index(None, "customer_id"),
)

meter_events = Table(
    "meter_events",
    metadata,
    _id(),
    _fk("meter_id", "meters.id"),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("actor", String(64), nullable=True),
    Index(None, "meter_id", "id"),
)

debts = Table(
    "debts",
    metadata,
    _id(),
    _fk("meter_id", "meters.id", nullable=True),
    Column("description", Text, nullable=False),
    Column("outstanding", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("value", ExactDecimal, nullable=False),
    Column("taxed", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=True),
    Index(None, "meter_id", "id"),
)

vendors = Table(
    "vendors",
    metadata,
    _id(),
    Column("code", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("credit_limit", BigInteger, nullable=False),
    Column("commission", ExactDecimal, nullable=False),
    Column("allowed_sgcs", _Json, nullable=False),
    UniqueConstraint("code"),
)

vends = Table(
    "vends",
    metadata,
    _id(),
    Column("client_id", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    _fk("meter_id", "meters.id"),
    Column("meter_number", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("vendor_code", String(32), nullable=True),
    Column("operator", String(64), nullable=True),
    Column("gross", BigInteger, nullable=False),
    Column("commission", BigInteger, nullable=False),
    Column("breakdown", _Json, nullable=True),
    Column("tariff_code", String(32), nullable=True),
    Column("tariff_version", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("reversed_at", UtcDateTime, nullable=True),
    Column("reversal_reason", Text, nullable=True),
    Column("reversed_by", String(64), nullable=True),
    Index(None, "meter_id", "id"),
)

vend_tokens = Table(
    "vend_tokens",
    metadata,
    _fk("vend_id", "vends.id"),
    Column("sequence", SmallInteger, nullable=False),
    _fk("meter_id", "meters.id"),
    Column("kind", String(32), nullable=False),
    Column("token", String(20), nullable=False),
    Column("tid", Integer, nullable=True),
    Column("tenths", BigInteger, nullable=True),
    Column("description", Text, nullable=False),
    PrimaryKeyConstraint("vend_id", "sequence"),
)
Index(
    "uq_vend_tokens_meter_id_tid",
    vend_tokens.c.meter_id,
    vend_tokens.c.tid,
    unique=True,
    sqlite_where=vend_tokens.c.tid.is_not(None),
    postgresql_where=vend_tokens.c.tid.is_not(None),
)

vendor_entries = Table(
    "vendor_entries",
    metadata,
    _id(),
    _fk("vendor_id", "vendors.id"),
    Column("at", UtcDateTime, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    _fk("vend_id", "vends.id", nullable=True),
    Index(None, "vendor_id", "id"),
)

requests = Table(
    "requests",
    metadata,
    Column("client_id", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("response", Text, nullable=True),
    _fk("vend_id", "vends.id", nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("client_id", "request_id"),
)

maintenance_requests = Table(
    "maintenance_requests",
    metadata,
    _id(),
    _fk("meter_id", "meters.id"),
    Column("description", Text, nullable=False),
    Column("reported_by", String(64), nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("engineer", String(64), nullable=True),
    Column("solution", Text, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("extra", _Json, nullable=False),
    Index(None, "meter_id", "id"),
)

# Registers the tables of these modules on ``metadata``.
from vending_core.adapters import (  # noqa: E402
    tables_admin,  # noqa: F401
    tables_agents,  # noqa: F401
    tables_api,  # noqa: F401
    tables_messaging,  # noqa: F401
    tables_payments,  # noqa: F401
    tables_reports,  # noqa: F401
    tables_shifts,  # noqa: F401
)
