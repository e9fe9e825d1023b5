"""The result of pricing one purchase: the receipt breakdown and its lines.

A :class:`Breakdown` is stored on the vend (``to_dict``) and its :meth:`Breakdown.lines`
always sum exactly to the gross amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

__all__ = ["Breakdown", "ChargeSplit", "DebtLine", "StepLine"]


@dataclass(frozen=True, slots=True)
class StepLine:
    """One receipt step: ``tenths`` delivered at ``rate`` (minor units per unit, excl. VAT)."""

    tenths: int
    rate: Decimal


@dataclass(frozen=True, slots=True)
class DebtLine:
    """What one purchase recovered of one debt item (``amount`` includes ``vat``)."""

    debt_id: int | None
    amount: int
    vat: int
    outstanding_after: int


@dataclass(frozen=True, slots=True)
class ChargeSplit:
    """Fixed and service charges collected from a purchase, and what stays owing (excl. VAT)."""

    fixed_net: int
    fixed_vat: int
    service_net: int
    service_vat: int
    owing_after: int

    @property
    def total(self) -> int:
        """Everything collected, VAT included."""
        return self.fixed_net + self.fixed_vat + self.service_net + self.service_vat


@dataclass(frozen=True, slots=True, kw_only=True)
class Breakdown:
    """The priced split of one purchase, stored on the vend and printed on the receipt.

    ``charged_up_to_after``/``charges_owing_after`` are None for FBE claimed alone: such a
    claim leaves the meter's fixed-charge state as it is. ``residue`` is the energy paid for
    but not delivered (units, Decimal), left by quantizing down to a token value.
    """

    gross: int
    energy_net: int
    energy_vat: int
    fixed_net: int
    fixed_vat: int
    service_net: int
    service_vat: int
    debt_lines: tuple[DebtLine, ...]
    credit_tenths: int
    fbe_tenths: int
    steps: tuple[StepLine, ...]
    residue: Decimal
    month: str
    month_tenths_after: int
    charged_up_to_after: date | None
    charges_owing_after: int | None
    tariff_code: str
    tariff_version: int

    def __post_init__(self) -> None:
        if sum(amount for _, amount in self.lines()) != self.gross:
            raise ValueError(f"breakdown lines do not sum to the gross {self.gross}")

    @property
    def debt_total(self) -> int:
        """Debt recovered, VAT included."""
        return sum(line.amount for line in self.debt_lines)

    @property
    def vat_total(self) -> int:
        """All VAT in the purchase: energy, fixed and service charges, taxed debt."""
        debt_vat = sum(line.vat for line in self.debt_lines)
        return self.energy_vat + self.fixed_vat + self.service_vat + debt_vat

    def lines(self) -> tuple[tuple[str, int], ...]:
        """Receipt lines, VAT excluded except the one VAT line; they always sum to gross."""
        debt_net = self.debt_total - sum(line.vat for line in self.debt_lines)
        return (
            ("energy", self.energy_net),
            ("vat", self.vat_total),
            ("fixed charges", self.fixed_net),
            ("service charge", self.service_net),
            ("debt", debt_net),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (Decimals as strings, dates ISO) for the vend record."""
        return {name: _jsonable(getattr(self, name)) for name in _field_names(Breakdown)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Breakdown:
        """Rebuild a breakdown stored with :meth:`to_dict` (checks that it still sums)."""
        after = data["charged_up_to_after"]
        values = {f.name: data[f.name] for f in fields(cls)}
        values.update(
            debt_lines=tuple(DebtLine(**line) for line in data["debt_lines"]),
            steps=tuple(StepLine(s["tenths"], Decimal(s["rate"])) for s in data["steps"]),
            residue=Decimal(data["residue"]),
            charged_up_to_after=None if after is None else date.fromisoformat(after),
        )
        return cls(**values)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once per class (``fields`` is slow per call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _jsonable(value: object) -> Any:
    """JSON-safe form of a breakdown value: lines become dicts, Decimals and dates text."""
    if isinstance(value, tuple):
        return [
            {name: _jsonable(getattr(item, name)) for name in _field_names(type(item))}
            for item in value
        ]
    if isinstance(value, Decimal | date):
        return str(value)
    return value
