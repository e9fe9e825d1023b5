"""Request bodies and queries of engineering tokens, key change, maintenance and shifts.

Pydantic v2 models that refuse unknown fields, kept apart from :mod:`admin_api.models` (the
first slice's bodies), with its conventions: integers must be JSON integers, free text must
hold a non-blank character.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from admin_api.models import MeterNumber, Page

__all__ = [
    "EngineeringRequest",
    "KeyChangeRequest",
    "MaintenanceAssign",
    "MaintenanceOpen",
    "MaintenanceQuery",
    "MaintenanceResolve",
    "ShiftQuery",
]

Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"\S")]
_ALL_REGISTERS = 0xFFFF
_REGISTERS = range(8)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineeringRequest(_Body):
    """One engineering token for a meter (idempotent with the ``Idempotency-Key`` header).

    ``value``: the limit in watts for ``set_power_limit`` and ``set_phase_unbalance_limit``
    (required); the credit register (0-7, or 65535 for all, the default) for
    ``clear_credit``; none for ``clear_tamper``.
    """

    meter_number: MeterNumber
    kind: Literal["clear_credit", "clear_tamper", "set_power_limit", "set_phase_unbalance_limit"]
    value: Annotated[int | None, Field(ge=0, le=1_000_000_000, strict=True)] = None

    @model_validator(mode="after")
    def _value_fits_the_kind(self) -> Self:
        if self.kind.startswith("set_") and self.value is None:
            raise ValueError(f"{self.kind} needs a value: the limit in watts")
        if self.kind == "clear_tamper" and self.value is not None:
            raise ValueError("clear_tamper takes no value")
        registers = (*_REGISTERS, _ALL_REGISTERS)
        if self.kind == "clear_credit" and self.value not in (None, *registers):
            raise ValueError("clear_credit takes a register 0-7, or 65535 for all")
        return self


class KeyChangeRequest(_Body):
    """The key data to move a meter to; a field left out keeps the meter's current value.

    The key revision is always the target supply group's current one; ``to_krn``, when
    given, must equal it (a guard against keying to a revision that is not current).
    """

    to_sgc: Annotated[str | None, Field(pattern=r"^[0-9]{6}$")] = None
    to_krn: Annotated[int | None, Field(ge=1, le=9, strict=True)] = None
    to_ti: Annotated[int | None, Field(ge=0, le=99, strict=True)] = None
    to_base_date: Literal[1993, 2014, 2035] | None = None


class MaintenanceOpen(_Body):
    """A fault reported for a meter."""

    meter_number: MeterNumber
    description: Text


class MaintenanceAssign(_Body):
    """The engineer who takes the request (a name, up to 64 characters)."""

    engineer: Name


class MaintenanceResolve(_Body):
    """What was done to resolve the request."""

    solution: Text


class MaintenanceQuery(Page):
    """Maintenance filters: status, meter number, engineer."""

    status: Literal["open", "assigned", "resolved"] | None = None
    meter: MeterNumber | None = None
    engineer: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class ShiftQuery(Page):
    """Shift filters: vending point, status."""

    vendor_code: Annotated[str | None, Field(min_length=1, max_length=32)] = None
    status: Literal["open", "closed"] | None = None
