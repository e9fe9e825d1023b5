"""Conversions between table rows and the domain dataclasses.

Columns are named like the dataclass fields, so most conversion is generic: :func:`to_row`
turns enums into their values and tuples into lists (JSON); :func:`from_row` rebuilds the
dataclass, applying a converter (enum class, ``tuple``) to the fields that need one. The few
shapes that differ (a tariff's blocks and fixed charge, a vend's tokens) have their own
functions here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from decimal import Decimal
from typing import Any, Final, TypeVar

from sts import KeyType, Utility
from vending_core.domain.model import (
    Block,
    ChargePeriod,
    Customer,
    Debt,
    DebtMode,
    FixedCharge,
    Meter,
    MeterStatus,
    Tariff,
    Vendor,
)
from vending_core.domain.records import (
    IssuedToken,
    MaintenanceRequest,
    MaintenanceStatus,
    TokenKind,
    Vend,
    VendKind,
    VendStatus,
)

__all__ = [
    "CONVERTERS",
    "from_row",
    "tariff_from_row",
    "tariff_to_row",
    "to_row",
    "token_from_row",
    "token_rows",
    "vend_from_row",
]

_T = TypeVar("_T")
Converter = Callable[[Any], Any]

#: Per dataclass, how stored values become field values (applied to non-NULL values only).
CONVERTERS: Final[Mapping[type, Mapping[str, Converter]]] = {
    Meter: {"utility": Utility, "kt": KeyType, "status": MeterStatus},
    Customer: {"phones": tuple},
    Debt: {"mode": DebtMode},
    Vendor: {"allowed_sgcs": tuple},
    MaintenanceRequest: {"status": MaintenanceStatus},
    IssuedToken: {"kind": TokenKind},
    Vend: {"kind": VendKind, "status": VendStatus},
}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_PLANS: dict[tuple[type, tuple[str, ...]], tuple[tuple[str, Converter | None], ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _plan(cls: type, skip: tuple[str, ...]) -> tuple[tuple[str, Converter | None], ...]:
    """The fields to read for ``cls`` (minus ``skip``), each with its converter."""
    plan = _PLANS.get((cls, skip))
    if plan is None:
        converters = CONVERTERS.get(cls, {})
        plan = _PLANS[(cls, skip)] = tuple(
            (name, converters.get(name)) for name in _field_names(cls) if name not in skip
        )
    return plan


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


_CONVERTED = (enum.Enum, tuple)


def to_row(entity: Any, *, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """The column values of a dataclass whose fields are named like its columns."""
    row = {name: getattr(entity, name) for name, _ in _plan(type(entity), skip)}
    for name, value in row.items():
        if isinstance(value, _CONVERTED):
            row[name] = _plain(value)
    return row


def from_row(
    cls: type[_T], row: Mapping[str, Any], *, skip: tuple[str, ...] = (), prefix: str = ""
) -> _T:
    """Rebuild a ``cls`` dataclass from a row holding a column per field (except ``skip``).

    ``prefix`` reads the columns under prefixed names (a joined row: ``customer__name``).
    """
    values: dict[str, Any] = {}
    for name, converter in _plan(cls, skip):
        value = row[prefix + name]
        values[name] = value if converter is None or value is None else converter(value)
    return cls(**values)


def tariff_to_row(tariff: Tariff) -> dict[str, Any]:
    """A tariff's row: blocks as JSON with rates as exact decimal text."""
    row = to_row(tariff, skip=("blocks", "fixed_charge"))
    row["blocks"] = [
        {"up_to_tenths": block.up_to_tenths, "rate": str(block.rate)} for block in tariff.blocks
    ]
    charge = tariff.fixed_charge
    row["fixed_charge_amount"] = None if charge is None else charge.amount
    row["fixed_charge_period"] = None if charge is None else charge.period.value
    return row


def tariff_from_row(row: Mapping[str, Any], *, prefix: str = "") -> Tariff:
    """Rebuild a tariff from its row (columns under ``prefix`` + name, as in from_row)."""
    blocks = tuple(
        Block(up_to_tenths=block["up_to_tenths"], rate=Decimal(block["rate"]))
        for block in row[prefix + "blocks"]
    )
    charge = None
    if row[prefix + "fixed_charge_amount"] is not None:
        charge = FixedCharge(
            amount=row[prefix + "fixed_charge_amount"],
            period=ChargePeriod(row[prefix + "fixed_charge_period"]),
        )
    return Tariff(
        code=row[prefix + "code"],
        version=row[prefix + "version"],
        name=row[prefix + "name"],
        utility=Utility(row[prefix + "utility"]),
        blocks=blocks,
        vat_rate=row[prefix + "vat_rate"],
        fixed_charge=charge,
        service_charge=row[prefix + "service_charge"],
        min_purchase=row[prefix + "min_purchase"],
        max_purchase=row[prefix + "max_purchase"],
        fbe_monthly_tenths=row[prefix + "fbe_monthly_tenths"],
        fbe_counts_toward_blocks=row[prefix + "fbe_counts_toward_blocks"],
    )


def token_rows(vend_id: int, vend: Vend) -> list[dict[str, Any]]:
    """The ``vend_tokens`` rows of a vend: each carries the meter id (unique TID per meter)."""
    rows = []
    for token in vend.tokens:
        row = to_row(token, skip=())
        row["vend_id"] = vend_id
        row["meter_id"] = vend.meter_id
        rows.append(row)
    return rows


def token_from_row(row: Mapping[str, Any]) -> IssuedToken:
    """Rebuild an issued token from its row."""
    return from_row(IssuedToken, row)


def vend_from_row(row: Mapping[str, Any], tokens: Collection[IssuedToken]) -> Vend:
    """Rebuild a vend from its row and its tokens (in sequence order)."""
    vend = from_row(Vend, row, skip=("tokens",))
    vend.tokens = tuple(tokens)
    return vend
