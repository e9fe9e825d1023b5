"""Amount encodings of IEC 62055-41.

**Transfer amount** (16-bit field of credit, MPL and MPPUL tokens): a 2-bit
exponent ``e`` above a 14-bit mantissa ``m``::

    value = m * 10**e + sum(2**14 * 10**(n - 1) for n in 1..e)

    e   value range               step   field range
    0   0 .. 16 383                  1   0x0000-0x3FFF
    1   16 384 .. 180 214           10   0x4000-0x7FFF
    2   180 224 .. 1 818 524       100   0x8000-0xBFFF
    3   1 818 624 .. 18 201 624   1000   0xC000-0xFFFF

Credit values are in tenths of a unit (0.1 kWh, 0.1 m3), power limits in whole
watts. Encoding picks the smallest exponent that holds the value and rounds the
mantissa **up**, so a customer never receives less than was sold; values in the
gaps between ranges go to the first value of the next range.

**Currency amount** (Edition 3, class 0 subclasses 4-7): the same structure with
a 5-bit exponent (0-31) and a sign, in base units of 10**-5 of the currency.
Positive amounts round the magnitude up, negative amounts round it down. The
exponent's low two bits sit at the top of the 16-bit field and the sign with
the exponent's high three bits replace the random nibble.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import cast

from sts.errors import AmountRangeError, FieldError

__all__ = [
    "MAX_CURRENCY_UNITS",
    "MAX_TRANSFER_VALUE",
    "CurrencyAmount",
    "decode_amount",
    "encode_amount",
    "encode_currency",
    "tenths",
]

_MANTISSA_MAX = (1 << 14) - 1
_LARGEST_DIGITS = 40  # decimal exponent beyond which no amount is meaningful


def _offsets(count: int) -> tuple[int, ...]:
    """Return ``sum(2**14 * 10**(n-1) for n in 1..e)`` for e in 0..count-1."""
    offsets = [0]
    for e in range(1, count):
        offsets.append(offsets[-1] + (1 << 14) * 10 ** (e - 1))
    return tuple(offsets)


_OFFSETS = _offsets(32)
_POWERS = tuple(10**e for e in range(32))

#: Largest value a 16-bit transfer amount holds (1 820 162.4 kWh in tenths).
MAX_TRANSFER_VALUE = _MANTISSA_MAX * _POWERS[3] + _OFFSETS[3]
#: Largest currency magnitude in base units of 10**-5.
MAX_CURRENCY_UNITS = _MANTISSA_MAX * _POWERS[31] + _OFFSETS[31]


def _value(exponent: int, mantissa: int) -> int:
    value: int = mantissa * _POWERS[exponent] + _OFFSETS[exponent]
    return value


def _round_up(value: int, exponents: int) -> tuple[int, int]:
    """Smallest (e, m) whose value is >= ``value``; caller checks the maximum."""
    for e in range(exponents):
        if value <= _value(e, _MANTISSA_MAX):
            step = _POWERS[e]
            return e, max(0, -(-(value - _OFFSETS[e]) // step))
    raise AssertionError("value above the maximum")  # pragma: no cover - caller checks


def _round_down(value: int, exponents: int) -> tuple[int, int]:
    """Largest (e, m) whose value is <= ``value``; caller checks the maximum."""
    e = exponents - 1
    while _OFFSETS[e] > value:
        e -= 1
    return e, min(_MANTISSA_MAX, (value - _OFFSETS[e]) // _POWERS[e])


def encode_amount(value: int) -> int:
    """Encode ``value`` (tenths, or watts) as a 16-bit transfer amount, rounding up.

    >>> hex(encode_amount(20_000))  # 2000.0 kWh is sent as 2000.4 kWh
    '0x416a'
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise AmountRangeError(f"amount must be a whole number of steps, got {value!r}")
    if value < 0:
        raise AmountRangeError(f"amount must not be negative, got {value}")
    if value > MAX_TRANSFER_VALUE:
        raise AmountRangeError(
            f"amount {value} is above the largest a token carries ({MAX_TRANSFER_VALUE})"
        )
    e, m = _round_up(value, 4)
    return (e << 14) | m


def decode_amount(field: int) -> int:
    """Return the value a 16-bit transfer amount field represents."""
    if not 0 <= field <= 0xFFFF:
        raise FieldError(f"amount field must be 16 bits, got {field}")
    return _value(field >> 14, field & _MANTISSA_MAX)


def tenths(amount: Decimal | int | str) -> int:
    """Convert a decimal quantity (kWh, m3, ...) to whole tenths, rounding up.

    Floats are refused: they cannot hold most decimal fractions exactly.
    """
    if isinstance(amount, (float, bool)):
        raise AmountRangeError("pass amounts as Decimal, int or str, never float")
    try:
        quantity = Decimal(amount)
    except (InvalidOperation, ValueError) as exc:
        raise AmountRangeError(f"not a decimal amount: {amount!r}") from exc
    if not quantity.is_finite():
        raise AmountRangeError(f"not a finite amount: {amount!r}")
    if quantity.adjusted() > _LARGEST_DIGITS:
        raise AmountRangeError(f"amount {amount!r} is far above anything a token carries")
    # Multiply by ten by moving the exponent: exact, whatever the decimal context's precision.
    sign, digits, exponent = quantity.as_tuple()
    scaled = Decimal((sign, digits, cast("int", exponent) + 1))  # an int: quantity is finite
    return int(scaled.to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True, slots=True)
class CurrencyAmount:
    """A signed currency amount as carried by an Edition 3 currency token."""

    sign: int
    exponent: int
    mantissa: int

    def __post_init__(self) -> None:
        if self.sign not in (0, 1):
            raise FieldError(f"currency sign must be 0 or 1, got {self.sign}")
        if not 0 <= self.exponent <= 31:
            raise FieldError(f"currency exponent must be 0-31, got {self.exponent}")
        if not 0 <= self.mantissa <= _MANTISSA_MAX:
            raise FieldError(f"currency mantissa must be 0-16383, got {self.mantissa}")

    @property
    def units(self) -> int:
        """The signed amount in base units of 10**-5 of the currency."""
        magnitude = _value(self.exponent, self.mantissa)
        return -magnitude if self.sign else magnitude

    @property
    def amount_field(self) -> int:
        """The 16-bit field: exponent bits 1..0 then the mantissa."""
        return ((self.exponent & 0b11) << 14) | self.mantissa

    @property
    def sign_exponent(self) -> int:
        """The nibble in the random-number position: sign, exponent bits 4..2."""
        return (self.sign << 3) | (self.exponent >> 2)

    @classmethod
    def from_fields(cls, amount_field: int, sign_exponent: int) -> CurrencyAmount:
        """Rebuild the amount from a token's 16-bit field and sign/exponent nibble."""
        if not 0 <= amount_field <= 0xFFFF or not 0 <= sign_exponent <= 0xF:
            raise FieldError("currency fields must be 16 and 4 bits wide")
        exponent = ((sign_exponent & 0b111) << 2) | (amount_field >> 14)
        return cls(sign_exponent >> 3, exponent, amount_field & _MANTISSA_MAX)


def encode_currency(units: int) -> CurrencyAmount:
    """Encode a signed amount in 10**-5 currency units.

    Positive amounts round the magnitude up, negative ones round it down, so
    the customer is never credited more than paid for, nor debited more than
    asked.
    """
    if not isinstance(units, int) or isinstance(units, bool):
        raise AmountRangeError(f"currency amount must be whole base units, got {units!r}")
    magnitude = abs(units)
    if units >= 0:
        if magnitude > MAX_CURRENCY_UNITS:
            raise AmountRangeError(f"currency amount {units} is above the largest a token carries")
        e, m = _round_up(magnitude, 32)
        return CurrencyAmount(0, e, m)
    if magnitude > MAX_CURRENCY_UNITS:
        raise AmountRangeError(f"currency amount {units} is below the smallest a token carries")
    e, m = _round_down(magnitude, 32)
    return CurrencyAmount(1 if (e, m) != (0, 0) else 0, e, m)
