"""Tests for :mod:`sts.amount`: the 16-bit transfer amount and the Ed.3 currency amount.

Expected values come from SPEC.md sections 3.4 and 3.5, the shared vector files, or hand
calculations written out in comments. Where a reference value function is needed it is the
closed form of the SPEC formula (a geometric series), written in this file.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.amount import (
    MAX_CURRENCY_UNITS,
    MAX_TRANSFER_VALUE,
    CurrencyAmount,
    decode_amount,
    encode_amount,
    encode_currency,
    tenths,
)
from sts.errors import AmountRangeError, FieldError

# tests/unit/sts/test_amount.py -> parents[3] is the repository root; `shared` sits beside it.
VECTORS_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"

TOKEN_FILES = (
    "group_a.jsonl",
    "group_b.jsonl",
    "group_d.jsonl",
    "group_f.jsonl",
    "gh_public.jsonl",
    "iec_worked_example.jsonl",
)

MANTISSA_MAX = 2**14 - 1


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    """Return the JSON objects of one vector file; fail (never skip) if it is missing."""
    path = VECTORS_DIR / name
    assert path.is_file(), f"vector file missing: {path}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _offset(exponent: int) -> int:
    """SPEC 3.4/3.5 offset sum_{n=0..e-1} 2**14 * 10**n, in closed form 2**14 * (10**e - 1) / 9.

    (10**e - 1) / 9 is the repunit 11...1 with e ones, so the division is exact.
    """
    offset: int = 2**14 * (10**exponent - 1) // 9
    return offset


def _value(exponent: int, mantissa: int) -> int:
    """SPEC value of (e, m): m * 10**e + offset(e)."""
    value: int = mantissa * 10**exponent + _offset(exponent)
    return value


def _field_value(field: int) -> int:
    """SPEC 3.4 value of a 16-bit transfer amount field: e = top 2 bits, m = low 14 bits."""
    return _value(field >> 14, field & MANTISSA_MAX)


def _currency_lines() -> list[dict[str, Any]]:
    """The currency lines of gh_public.jsonl and group_f.jsonl (5 in the public set)."""
    lines = [
        line
        for name in ("gh_public.jsonl", "group_f.jsonl")
        for line in _read_jsonl(name)
        if line["kind"] == "currency"
    ]
    assert len(lines) == 5
    return lines


# ------------------------------------------------------------------ transfer amount


def test_reference_formula_matches_spec_table() -> None:
    """Self-check of this file's closed form against the SPEC 3.4 table's range ends."""
    assert _offset(0) == 0
    assert _offset(1) == 16_384
    assert _offset(2) == 180_224
    assert _offset(3) == 1_818_624
    assert _value(0, MANTISSA_MAX) == 16_383
    assert _value(1, MANTISSA_MAX) == 180_214
    assert _value(2, MANTISSA_MAX) == 1_818_524
    assert _value(3, MANTISSA_MAX) == 18_201_624


def test_max_transfer_value() -> None:
    """MAX_TRANSFER_VALUE is 18 201 624 tenths (1 820 162.4 kWh), SPEC 3.4."""
    assert MAX_TRANSFER_VALUE == 18_201_624


# SPEC 3.4: e | value range | step | field range
#   0 | 0 .. 16 383              | 1    | 0x0000-0x3FFF
#   1 | 16 384 .. 180 214        | 10   | 0x4000-0x7FFF
#   2 | 180 224 .. 1 818 524     | 100  | 0x8000-0xBFFF
#   3 | 1 818 624 .. 18 201 624  | 1000 | 0xC000-0xFFFF
BOUNDARIES = [
    (0, 0x0000),
    (1, 0x0001),
    (16_383, 0x3FFF),
    (16_384, 0x4000),
    # 16 385: e=1, m = ceil((16 385 - 16 384) / 10) = 1 -> 16 394, field 0x4000 | 1.
    (16_385, 0x4001),
    (16_394, 0x4001),
    (16_395, 0x4002),
    # 20 000: m = ceil(3 616 / 10) = 362 = 0x16A -> 0x416A = 20 004 (SPEC 3.4 example).
    (20_000, 0x416A),
    (180_213, 0x7FFF),
    (180_214, 0x7FFF),
    # gap 180 215 .. 180 223 -> first value of e=2: 0x8000 = 180 224.
    (180_215, 0x8000),
    (180_219, 0x8000),
    (180_223, 0x8000),
    (180_224, 0x8000),
    # 180 225: m = ceil(1 / 100) = 1 -> 0x8001 = 180 324.
    (180_225, 0x8001),
    (1_818_524, 0xBFFF),
    # gap 1 818 525 .. 1 818 623 -> 0xC000 = 1 818 624.
    (1_818_525, 0xC000),
    (1_818_623, 0xC000),
    (1_818_624, 0xC000),
    # 1 818 625: m = ceil(1 / 1000) = 1 -> 0xC001 = 1 819 624.
    (1_818_625, 0xC001),
    (18_201_623, 0xFFFF),
    (18_201_624, 0xFFFF),
]


@pytest.mark.parametrize(("value", "field"), BOUNDARIES)
def test_encode_amount_boundaries(value: int, field: int) -> None:
    """SPEC 3.4 boundaries: smallest exponent, mantissa rounded up, gaps go to the next range."""
    assert encode_amount(value) == field


@pytest.mark.parametrize(("value", "field"), BOUNDARIES)
def test_encoded_boundary_value_is_not_less(value: int, field: int) -> None:
    """The table's fields decode to at least the requested value (the customer never loses)."""
    assert decode_amount(field) >= value
    assert decode_amount(field) == _field_value(field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # e = 0: value = m
        (0x0000, 0),
        (0x3FFF, 16_383),
        # e = 1: 16 384 + 10 m
        (0x4000, 16_384),
        (0x4001, 16_394),
        (0x416A, 20_004),
        (0x7FFF, 180_214),
        # e = 2: 180 224 + 100 m
        (0x8000, 180_224),
        (0x8001, 180_324),
        (0xBFFF, 1_818_524),
        # e = 3: 1 818 624 + 1000 m
        (0xC000, 1_818_624),
        (0xC001, 1_819_624),
        (0xFFFF, 18_201_624),
    ],
)
def test_decode_amount_each_exponent(field: int, value: int) -> None:
    """decode_amount gives m * 10**e + sum 2**14 * 10**(n-1) for every exponent (SPEC 3.4)."""
    assert decode_amount(field) == value


@pytest.mark.parametrize("field", [-1, 0x10000, 2**20])
def test_decode_amount_rejects_non_16_bit_field(field: int) -> None:
    """A field outside 0..0xFFFF raises FieldError."""
    with pytest.raises(FieldError):
        decode_amount(field)


@pytest.mark.parametrize("value", [18_201_625, 18_202_624, 2**31])
def test_encode_amount_above_max_raises(value: int) -> None:
    """A value above 18 201 624 (SPEC 3.4 maximum) is a range error."""
    with pytest.raises(AmountRangeError):
        encode_amount(value)


@pytest.mark.parametrize("value", [-1, -16_384, 1.0, 20_000.0, True, False, Decimal(5), "5"])
def test_encode_amount_rejects_negative_and_non_int(value: object) -> None:
    """Negative values, floats, bools, Decimals and strings are refused with AmountRangeError."""
    with pytest.raises(AmountRangeError):
        encode_amount(value)  # type: ignore[arg-type]


def test_every_field_decodes_per_formula_and_is_canonical() -> None:
    """All 65 536 fields: decode matches the SPEC formula, and encode(decode(f)) == f.

    Every field is canonical: the four exponent ranges of SPEC 3.4 do not overlap (each ends
    below the next one's start: 16 383 < 16 384, 180 214 < 180 224, 1 818 524 < 1 818 624)
    and within a range m -> value is injective, so each value has exactly one field. The
    values in the gaps (180 215-180 223, 1 818 525-1 818 623) are values no field reaches,
    not fields. Strictly increasing values over the fields prove it independently.
    """
    previous = -1
    wrong = []
    for field in range(0x10000):
        value = _field_value(field)
        assert value > previous, f"field {field:#06x} does not increase"
        previous = value
        if decode_amount(field) != value:
            wrong.append(f"decode {field:#06x}")
        elif encode_amount(value) != field:
            wrong.append(f"encode {value}")
    assert wrong == []


@settings(max_examples=200, deadline=None, database=None)
@given(
    value=st.one_of(
        st.integers(0, MAX_TRANSFER_VALUE),
        st.integers(170_000, 1_900_000),  # around both gaps
    )
)
def test_encode_amount_is_smallest_value_not_below(value: int) -> None:
    """For 0 <= v <= max: encode(v) decodes to >= v, and the field just below decodes to < v."""
    field = encode_amount(value)
    assert 0 <= field <= 0xFFFF
    assert _field_value(field) >= value
    assert decode_amount(field) == _field_value(field)
    if field > 0:
        # Field values increase strictly (see the exhaustive test), so field - 1 is the
        # previous representable value.
        assert _field_value(field - 1) < value


@pytest.mark.parametrize("name", TOKEN_FILES)
def test_vector_credit_and_power_amounts(name: str) -> None:
    """Credit and MPL/MPPUL lines: requested value encodes to amount_field, which decodes back.

    credit: requested_tenths -> amount_field -> value_tenths, and `value` (one decimal place)
    converts to value_tenths. MPL/MPPUL: requested_watts -> amount_field -> watts.
    """
    wrong = []
    for line in _read_jsonl(name):
        if line["kind"] == "credit":
            requested, encoded = line["requested_tenths"], line["value_tenths"]
            if tenths(line["value"]) != encoded:
                wrong.append(f"{line['id']}: tenths({line['value']!r})")
        elif line["kind"] in ("set_max_power_limit", "set_mppul"):
            requested, encoded = line["requested_watts"], line["watts"]
        else:
            continue
        if decode_amount(line["amount_field"]) != encoded:
            wrong.append(f"{line['id']}: decode {line['amount_field']}")
        if requested is not None and encode_amount(requested) != line["amount_field"]:
            wrong.append(f"{line['id']}: encode {requested}")
    assert wrong == []


# ------------------------------------------------------------------ tenths()


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("12.3"), 123),
        ("12.3", 123),
        (Decimal("2000"), 20_000),
        (Decimal("0.01"), 1),  # 0.1 tenths rounds up to 1
        ("12.31", 124),  # 123.1 tenths rounds up to 124
        (Decimal("12.30"), 123),  # trailing zero: exact, no rounding
        (5, 50),
        (0, 0),
        ("0", 0),
        ("1820162.4", 18_201_624),
    ],
)
def test_tenths(amount: Decimal | int | str, expected: int) -> None:
    """tenths() converts a decimal quantity to whole tenths exactly, rounding up (SPEC 3.4)."""
    assert tenths(amount) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        # 1 820 162.3 + 10**-23 kWh = 18 201 623.000...0001 tenths (30 significant digits)
        # -> rounds up to 18 201 624. Beyond decimal's default 28-digit precision.
        ("1820162.30000000000000000000001", 18_201_624),
        # 2000 + 10**-26 kWh = 20 000.000...0001 tenths -> 20 001.
        ("2000.00000000000000000000000001", 20_001),
    ],
)
def test_tenths_rounds_up_exactly_with_many_digits(amount: str, expected: int) -> None:
    """Rounding up is exact for any input, not subject to the decimal context's precision.

    SPEC 3.4: convert with exact decimal arithmetic, then round up; an amount above a
    whole tenth must never become that tenth (under-delivery).
    """
    assert tenths(amount) == expected


def test_tenths_huge_exponent_raises_only_amount_range_error() -> None:
    """A finite amount too large for the decimal context raises AmountRangeError, no signal.

    errors.py: every error the codec raises for bad input is an StsError.
    """
    with pytest.raises(AmountRangeError):
        tenths("1E+999999")


@pytest.mark.parametrize("amount", [1.5, 0.1, 12.0, True, False])
def test_tenths_rejects_float_and_bool(amount: object) -> None:
    """Floats (and bools) are refused: they cannot hold most decimal fractions exactly."""
    with pytest.raises(AmountRangeError):
        tenths(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount",
    ["abc", "", "1,5", "NaN", "nan", "sNaN", "Infinity", "-Infinity", Decimal("NaN")],
)
def test_tenths_rejects_non_numbers(amount: str | Decimal) -> None:
    """Text that is not a finite decimal raises AmountRangeError."""
    with pytest.raises(AmountRangeError):
        tenths(amount)


# ------------------------------------------------------------------ currency (SPEC 3.5)


def test_currency_spec_example() -> None:
    """SPEC 3.5: 10 000 000 units -> e=3, m=8182, field 0xDFF6 (57 334), S&E 0.

    offset(3) = 1 818 624; (10 000 000 - 1 818 624) / 1000 = 8 181.376 -> up to 8 182;
    value = 8 182 000 + 1 818 624 = 10 000 624; field = 3 << 14 | 8 182 = 0xDFF6.
    """
    amount = encode_currency(10_000_000)
    assert (amount.sign, amount.exponent, amount.mantissa) == (0, 3, 8182)
    assert amount.amount_field == 0xDFF6  # = 57 334
    assert amount.sign_exponent == 0
    assert amount.units == 10_000_624


def test_currency_vector_lines_encode() -> None:
    """gh_public/group_f currency lines: requested_units -> the line's fields and units."""
    wrong = []
    for line in _currency_lines():
        amount = encode_currency(line["requested_units"])
        got = (
            amount.amount_field,
            amount.sign_exponent,
            amount.sign,
            amount.exponent,
            amount.mantissa,
            amount.units,
        )
        expected = (
            line["amount_field"],
            line["sign_exponent"],
            line["sign"],
            line["exponent"],
            line["mantissa"],
            line["units"],
        )
        if got != expected:
            wrong.append(f"{line['id']}: got {got}, expected {expected}")
    assert wrong == []


def test_currency_vector_lines_from_fields() -> None:
    """gh_public/group_f currency lines: from_fields(amount_field, sign_exponent) gives units."""
    for line in _currency_lines():
        amount = CurrencyAmount.from_fields(line["amount_field"], line["sign_exponent"])
        assert amount.sign == line["sign"], line["id"]
        assert amount.exponent == line["exponent"], line["id"]
        assert amount.mantissa == line["mantissa"], line["id"]
        assert amount.units == line["units"], line["id"]
        assert amount == encode_currency(line["requested_units"]), line["id"]


def test_currency_negative_rounds_magnitude_down() -> None:
    """H/POS11-CTSA20-14: -18 022 400 000 -> -18 021 442 624 (magnitude rounded down).

    offset(6) = 16 384 * 111 111 = 1 820 442 624; e=6 holds it (max 18 203 442 624);
    (18 022 400 000 - 1 820 442 624) / 10**6 = 16 201.957 -> down to 16 201;
    16 201 * 10**6 + 1 820 442 624 = 18 021 442 624.
    Fields: 6 & 3 = 2 -> 2 << 14 | 16 201 = 48 969; S&E = 1 << 3 | 6 >> 2 = 9.
    """
    amount = encode_currency(-18_022_400_000)
    assert amount.units == -18_021_442_624
    assert (amount.sign, amount.exponent, amount.mantissa) == (1, 6, 16_201)
    assert amount.amount_field == 48_969
    assert amount.sign_exponent == 9


def test_currency_positive_same_magnitude_rounds_up() -> None:
    """G/POS07-CTSA22-4: +18 022 400 000 rounds up to 18 022 442 624 (m = 16 202)."""
    amount = encode_currency(18_022_400_000)
    assert amount.units == 18_022_442_624
    assert (amount.sign, amount.exponent, amount.mantissa) == (0, 6, 16_202)


def test_currency_exponent_8_sets_e3() -> None:
    """A positive amount with e = 8 = 0b01000 puts 0b010 (e4 e3 e2) in S&E.

    offset(8) = 16 384 * 11 111 111 = 182 044 442 624; e=7 max = 16 383 * 10**7 + offset(7)
    = 163 830 000 000 + 18 204 442 624 = 182 034 442 624 < 200 000 000 000, so e = 8.
    m = ceil((200 000 000 000 - 182 044 442 624) / 10**8) = ceil(179.555...) = 180;
    units = 180 * 10**8 + 182 044 442 624 = 200 044 442 624.
    field = (8 & 3) << 14 | 180 = 180 = 0x00B4; S&E = 0 << 3 | 8 >> 2 = 0b0010.
    """
    amount = encode_currency(200_000_000_000)
    assert (amount.sign, amount.exponent, amount.mantissa) == (0, 8, 180)
    assert amount.units == 200_044_442_624
    assert amount.amount_field == 0x00B4
    assert amount.sign_exponent == 0b0010


def test_currency_exponent_17_sets_e4_both_signs() -> None:
    """Amounts of magnitude 5 * 10**20 need e = 17 = 0b10001: S&E has e4 set.

    offset(17) = 16 384 * 11 111 111 111 111 111 = 182 044 444 444 444 442 624;
    e=16 max = 163 830 000 000 000 000 000 + 18 204 444 444 444 442 624
             = 182 034 444 444 444 442 624 < 5 * 10**20, so e = 17.
    (5 * 10**20 - offset(17)) / 10**17 = 317 955 555 555 555 557 376 / 10**17 = 3 179.555...
    positive: up to m = 3 180 -> 500 044 444 444 444 442 624; field 1 << 14 | 3 180 = 0x4C6C;
              S&E = 0 << 3 | 17 >> 2 = 0b0100.
    negative: down to m = 3 179 -> -499 944 444 444 444 442 624; field 0x4C6B;
              S&E = 1 << 3 | 0b100 = 0b1100.
    """
    positive = encode_currency(5 * 10**20)
    assert (positive.sign, positive.exponent, positive.mantissa) == (0, 17, 3180)
    assert positive.units == 500_044_444_444_444_442_624
    assert positive.amount_field == 0x4C6C
    assert positive.sign_exponent == 0b0100

    negative = encode_currency(-5 * 10**20)
    assert (negative.sign, negative.exponent, negative.mantissa) == (1, 17, 3179)
    assert negative.units == -499_944_444_444_444_442_624
    assert negative.amount_field == 0x4C6B
    assert negative.sign_exponent == 0b1100


def test_currency_gap_rounding_per_sign() -> None:
    """In the gap 180 215..180 223 positive goes up to 180 224, negative down to 180 214."""
    up = encode_currency(180_220)
    assert (up.exponent, up.mantissa, up.units) == (2, 0, 180_224)
    down = encode_currency(-180_220)
    assert (down.sign, down.exponent, down.mantissa, down.units) == (1, 1, MANTISSA_MAX, -180_214)


def test_currency_small_values() -> None:
    """0 is +0 (sign 0); +-1 are exact at e = 0 with the sign in the S&E nibble's top bit."""
    zero = encode_currency(0)
    assert (zero.sign, zero.exponent, zero.mantissa, zero.units) == (0, 0, 0, 0)
    assert (zero.amount_field, zero.sign_exponent) == (0, 0)
    minus_one = encode_currency(-1)
    assert (minus_one.sign, minus_one.mantissa, minus_one.units) == (1, 1, -1)
    assert (minus_one.amount_field, minus_one.sign_exponent) == (1, 0b1000)
    assert encode_currency(1).units == 1


def test_max_currency_units() -> None:
    """The largest magnitude is e=31, m=16 383: 16 383 * 10**31 + 16 384 * (10**31 - 1) / 9."""
    expected = 16_383 * 10**31 + 16_384 * (10**31 - 1) // 9
    assert expected == 182_034_444_444_444_444_444_444_444_444_442_624
    assert expected == MAX_CURRENCY_UNITS


def test_currency_extremes_encode() -> None:
    """+-MAX_CURRENCY_UNITS encode exactly: field 0xFFFF, S&E 0b0111 (+) and 0b1111 (-)."""
    top = encode_currency(MAX_CURRENCY_UNITS)
    assert (top.exponent, top.mantissa, top.units) == (31, MANTISSA_MAX, MAX_CURRENCY_UNITS)
    assert (top.amount_field, top.sign_exponent) == (0xFFFF, 0b0111)
    bottom = encode_currency(-MAX_CURRENCY_UNITS)
    assert bottom.units == -MAX_CURRENCY_UNITS
    assert (bottom.amount_field, bottom.sign_exponent) == (0xFFFF, 0b1111)


@pytest.mark.parametrize(
    "units",
    [MAX_CURRENCY_UNITS + 1, -MAX_CURRENCY_UNITS - 1, 10**40, -(10**40)],
)
def test_currency_out_of_range_raises(units: int) -> None:
    """Beyond +-MAX_CURRENCY_UNITS is a range error, for both signs."""
    with pytest.raises(AmountRangeError):
        encode_currency(units)


@pytest.mark.parametrize("units", [1.0, -5.5, True, False, Decimal(1), "100"])
def test_currency_rejects_non_int(units: object) -> None:
    """Currency amounts must be whole base units: floats, bools, Decimals, strings refused."""
    with pytest.raises(AmountRangeError):
        encode_currency(units)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sign", "exponent", "mantissa"),
    [(2, 0, 0), (-1, 0, 0), (0, 32, 0), (0, -1, 0), (0, 0, 16_384), (0, 0, -1)],
)
def test_currency_amount_field_checks(sign: int, exponent: int, mantissa: int) -> None:
    """CurrencyAmount refuses a sign other than 0/1, exponent outside 0-31, mantissa > 14 bits."""
    with pytest.raises(FieldError):
        CurrencyAmount(sign, exponent, mantissa)


@pytest.mark.parametrize(("amount_field", "sign_exponent"), [(0x10000, 0), (-1, 0), (0, 16)])
def test_from_fields_rejects_wide_fields(amount_field: int, sign_exponent: int) -> None:
    """from_fields needs a 16-bit field and a 4-bit nibble."""
    with pytest.raises(FieldError):
        CurrencyAmount.from_fields(amount_field, sign_exponent)


def test_from_fields_bit_placement() -> None:
    """SPEC 3.5 placement: field bits 15..14 = e1 e0, S&E = sign e4 e3 e2.

    field 0b10 << 14 | 5, S&E 0b1101: sign 1, e = 0b101 << 2 | 0b10 = 22, m = 5.
    """
    amount = CurrencyAmount.from_fields((0b10 << 14) | 5, 0b1101)
    assert (amount.sign, amount.exponent, amount.mantissa) == (1, 22, 5)
    assert amount.units == -(5 * 10**22 + _offset(22))


@settings(max_examples=200, deadline=None, database=None)
@given(
    sign=st.integers(0, 1),
    exponent=st.integers(0, 31),
    mantissa=st.integers(0, MANTISSA_MAX),
)
def test_from_fields_round_trip(sign: int, exponent: int, mantissa: int) -> None:
    """Any (sign, e, m): from_fields of its own field and nibble rebuilds it; units per SPEC."""
    amount = CurrencyAmount(sign, exponent, mantissa)
    assert 0 <= amount.amount_field <= 0xFFFF
    assert 0 <= amount.sign_exponent <= 0xF
    assert amount.amount_field == ((exponent & 0b11) << 14) | mantissa
    assert amount.sign_exponent == (sign << 3) | (exponent >> 2)
    assert CurrencyAmount.from_fields(amount.amount_field, amount.sign_exponent) == amount
    magnitude = _value(exponent, mantissa)
    assert amount.units == (-magnitude if sign else magnitude)


_UNITS = st.one_of(
    st.integers(1, 10**7),
    st.integers(1, 10**20),
    st.integers(1, MAX_CURRENCY_UNITS),
)


def _previous_value(exponent: int, mantissa: int) -> int | None:
    """The representable magnitude just below (e, m), or None below (0, 0)."""
    if mantissa > 0:
        return _value(exponent, mantissa - 1)
    if exponent > 0:
        return _value(exponent - 1, MANTISSA_MAX)
    return None


def _next_value(exponent: int, mantissa: int) -> int | None:
    """The representable magnitude just above (e, m), or None above the maximum."""
    if mantissa < MANTISSA_MAX:
        return _value(exponent, mantissa + 1)
    if exponent < 31:
        return _value(exponent + 1, 0)
    return None


@settings(max_examples=200, deadline=None, database=None)
@given(units=_UNITS)
def test_positive_currency_rounds_up_minimally(units: int) -> None:
    """Positive amounts: the encoded value is >= requested and the one below it is < requested."""
    amount = encode_currency(units)
    assert amount.sign == 0
    encoded = _value(amount.exponent, amount.mantissa)
    assert amount.units == encoded
    assert encoded >= units
    previous = _previous_value(amount.exponent, amount.mantissa)
    assert previous is None or previous < units


@settings(max_examples=200, deadline=None, database=None)
@given(magnitude=_UNITS)
def test_negative_currency_rounds_magnitude_down_maximally(magnitude: int) -> None:
    """Negative amounts: |encoded| <= |requested| and the next magnitude up is > |requested|."""
    amount = encode_currency(-magnitude)
    assert amount.sign == 1
    encoded = _value(amount.exponent, amount.mantissa)
    assert amount.units == -encoded
    assert encoded <= magnitude
    following = _next_value(amount.exponent, amount.mantissa)
    assert following is None or following > magnitude
