"""Request bodies of the partner API, validated with pydantic v2 (unknown fields refused).

Amounts are integer minor units (cents) and must be JSON integers, never floats or strings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "QuoteRequest",
    "ReprintRequest",
    "ReversalRequest",
    "VendRequest",
    "VoucherRedeemRequest",
]

MeterNumber = Annotated[str, Field(min_length=1, max_length=32, examples=["01234567897"])]
Amount = Annotated[int, Field(gt=0, le=100_000_000, strict=True, description="minor units")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuoteRequest(_Body):
    """A trial vend: what ``amount`` would buy for the meter (nothing is stored)."""

    meter_number: MeterNumber
    amount: Amount


class VendRequest(_Body):
    """A credit vend of ``amount`` (gross, minor units) for the meter."""

    meter_number: MeterNumber
    amount: Amount


class ReversalRequest(_Body):
    """Reversal advice: why the client could not complete the sale."""

    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class ReprintRequest(_Body):
    """The meter's last vends with their stored tokens (never new ones)."""

    meter_number: MeterNumber
    limit: Annotated[int, Field(ge=1, le=10, strict=True)] = 5


class VoucherRedeemRequest(_Body):
    """Redeem a scratch card's PIN for the meter: the card's face value is the amount."""

    pin: Annotated[
        str,
        Field(min_length=1, max_length=40, pattern=r"^[0-9 -]+$", examples=["1234 5678 9012 3456"]),
    ]
    meter_number: MeterNumber
