"""Tests for :mod:`sts.identifiers`: PAN/DRN parsing, Luhn digits, SGC/TI/KRN/KEN checks.

Expected values come from SPEC.md section 5.1 and the shared vector files, or a Luhn
validator written in this file (the "sum of all digits is 0 mod 10" form, a different
formulation from the check-digit generator under test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.errors import IdentifierError
from sts.identifiers import (
    IIN_LONG,
    IIN_SHORT,
    KeyType,
    Pan,
    check_ken,
    check_krn,
    check_sgc,
    check_ti,
    luhn_digit,
)

# tests/unit/sts/test_identifiers.py -> parents[3] is the repository root; `shared` beside it.
VECTORS_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    """Return the JSON objects of one vector file; fail (never skip) if it is missing."""
    path = VECTORS_DIR / name
    assert path.is_file(), f"vector file missing: {path}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _luhn_valid(number: str) -> bool:
    """Luhn validation of a number that ends in its check digit.

    From the right, the check digit is position 1; every digit at an even position
    (2, 4, ...) is doubled, and 9 subtracted when that exceeds 9. Valid iff the sum is
    0 mod 10.
    """
    total = 0
    for position, char in enumerate(reversed(number), start=1):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit >= 5 else digit * 2
        total += digit
    return total % 10 == 0


def _complete(payload: str) -> str:
    """Return ``payload`` followed by the single digit that makes it Luhn-valid."""
    valid = [payload + str(d) for d in range(10) if _luhn_valid(payload + str(d))]
    assert len(valid) == 1
    return valid[0]


def test_test_luhn_validator_self_check() -> None:
    """The test's own validator accepts the SPEC 5.1 PANs and rejects a changed digit."""
    assert _luhn_valid("600727000000000009")
    assert _luhn_valid("000001000000000082")
    assert _luhn_valid("0100000000008")
    assert not _luhn_valid("600727000000000008")
    assert _luhn_valid("79927398713")  # the textbook Luhn example


def test_luhn_digit_long_iin_pan() -> None:
    """SPEC 5.1: Luhn("60072700000000000") = 9.

    Digits from the right, the rightmost doubled first (the check digit will follow it):
    positions 0..10 are the eleven zeros; position 11 is 7 (kept), 12 is 2 (doubled: 4),
    13 is 7 (kept), 14 is 0 (doubled: 0), 15 is 0 (kept), 16 is 6 (doubled: 12 -> 1 + 2 = 3).
    Sum = 7 + 4 + 7 + 0 + 0 + 3 = 21; check digit = (10 - 21 mod 10) mod 10 = 9.
    """
    assert luhn_digit("60072700000000000") == 9


def test_luhn_digit_short_iin_pan() -> None:
    """SPEC 5.1: Luhn("00000100000000008") = 2."""
    assert luhn_digit("00000100000000008") == 2


def test_luhn_digit_drn() -> None:
    """SPEC 5.1: the DRN 0100000000008 ends in its own Luhn digit, Luhn("010000000000") = 8."""
    assert luhn_digit("010000000000") == 8


def test_luhn_digit_textbook_and_zero() -> None:
    """Textbook example 7992739871 -> 3; an all-zero payload -> 0."""
    assert luhn_digit("7992739871") == 3
    assert luhn_digit("0000000000") == 0


def test_iin_constants() -> None:
    """SPEC 5.1: IIN 600727 (then an 11-digit DRN) or 0000 (then a 13-digit DRN)."""
    assert IIN_LONG == "600727"
    assert IIN_SHORT == "0000"


def test_key_type_values() -> None:
    """SPEC 5.1: KT 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK."""
    assert [(kt.name, int(kt)) for kt in KeyType] == [
        ("DITK", 0),
        ("DDTK", 1),
        ("DUTK", 2),
        ("DCTK", 3),
    ]


@pytest.mark.parametrize(
    "text", ["600727000000000009", "00000000000", "6007 2700 0000 0000 09", "600727-00000000000-9"]
)
def test_parse_long_iin(text: str) -> None:
    """The 18-digit PAN 600727000000000009 and its 11-digit DRN 00000000000 are one meter."""
    pan = Pan.parse(text)
    assert pan.iin == "600727"
    assert pan.drn == "00000000000"
    assert pan.check_digit == 9
    assert pan.digits == "600727000000000009"
    assert str(pan) == "600727000000000009"


@pytest.mark.parametrize(
    "text",
    ["000001000000000082", "0100000000008", "0000 0100 0000 0000 82", "0100-0000-00008"],
)
def test_parse_short_iin(text: str) -> None:
    """The 18-digit PAN 000001000000000082 and its 13-digit DRN 0100000000008 are one meter."""
    pan = Pan.parse(text)
    assert pan.iin == "0000"
    assert pan.drn == "0100000000008"
    assert pan.check_digit == 2
    assert str(pan) == "000001000000000082"


def test_parse_forms_are_equal() -> None:
    """A DRN and the 18-digit PAN with its IIN parse to equal Pan values."""
    assert Pan.parse("00000000000") == Pan.parse("600727000000000009")
    assert Pan.parse("0100000000008") == Pan.parse("000001000000000082")
    assert Pan.parse("00000000000") != Pan.parse("0100000000008")


def test_vector_pans_parse() -> None:
    """Every PAN in the token and key-derivation vectors parses back to itself."""
    pans = {
        line["pan"]
        for name in ("group_a.jsonl", "group_b.jsonl", "gh_public.jsonl", "dk_derivation.jsonl")
        for line in _read_jsonl(name)
        if line["pan"] is not None
    }
    assert pans == {"600727000000000009", "000001000000000082"}
    for text in pans:
        assert str(Pan.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "600727000000000008",  # PAN check digit should be 9
        "600727000000000000",
        "000001000000000081",  # PAN check digit should be 2
        "0000 0100 0000 0000 83",
    ],
)
def test_wrong_pan_check_digit(text: str) -> None:
    """An 18-digit PAN whose last digit is not Luhn of the first 17 is refused."""
    with pytest.raises(IdentifierError, match="wrong check digit"):
        Pan.parse(text)


@pytest.mark.parametrize("drn", ["12345678904", "11111111113"])
def test_ctsa17_rejected_drns(drn: str) -> None:
    """SPEC 5.1: compliance step CTSA17 rejects DRNs 12345678904 and 11111111113.

    Luhn("1234567890"): from the right 0 9 8 7 6 5 4 3 2 1, doubling positions 0, 2, ...:
    0 + 9 + 7 (16 -> 7) + 7 + 3 (12 -> 3) + 5 + 8 + 3 + 4 + 1 = 47 -> check digit 3, not 4.
    Luhn("1111111111"): five doubled 1s (2 each) + five 1s = 15 -> check digit 5, not 3.
    """
    with pytest.raises(IdentifierError, match="wrong check digit"):
        Pan.parse(drn)
    with pytest.raises(IdentifierError, match="wrong check digit"):
        Pan(IIN_LONG, drn)


def test_ctsa17_corrected_drns_parse() -> None:
    """The same DRNs with their right check digits (3 and 5, see above) are accepted."""
    assert Pan.parse("12345678903").drn == "12345678903"
    assert Pan.parse("11111111115").drn == "11111111115"


def test_wrong_drn_check_digit_inside_valid_pan() -> None:
    """An 18-digit PAN whose own check digit is right but whose DRN digit is wrong is refused."""
    pan_text = _complete(IIN_LONG + "12345678904")
    assert len(pan_text) == 18
    with pytest.raises(IdentifierError, match="wrong check digit"):
        Pan.parse(pan_text)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0000000000",  # 10 digits
        "000000000000",  # 12
        "00000000000000",  # 14
        "60072700000000000",  # 17
        "6007270000000000090",  # 19
    ],
)
def test_bad_length(text: str) -> None:
    """Only 11, 13 or 18 digits are meter numbers."""
    with pytest.raises(IdentifierError, match="must have 11 or 13 digits"):
        Pan.parse(text)


@pytest.mark.parametrize("text", ["", " ", "-", " - "])
def test_empty_meter_number(text: str) -> None:
    """An empty meter number (or one of only separators) is refused."""
    with pytest.raises(IdentifierError):
        Pan.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "0000000000a",
        "6007270000000000O9",  # letter O
        "00000.000000",
        "+0000000000",
        "0000000000\n",
        "\u0660\u0661\u0662",  # Arabic-Indic digits 0 1 2
        "\u0660" * 11,  # eleven Arabic-Indic zeros: str.isdigit() is true for them
        "\uff10" * 11,  # eleven fullwidth zeros
    ],
)
def test_non_digits(text: str) -> None:
    """Letters, punctuation and non-ASCII digits are refused."""
    with pytest.raises(IdentifierError, match="only digits"):
        Pan.parse(text)


def test_non_ascii_drn_in_constructor() -> None:
    """The Pan constructor also refuses non-ASCII digits."""
    with pytest.raises(IdentifierError):
        Pan(IIN_LONG, "\u0660" * 11)


@pytest.mark.parametrize(
    "payload",
    ["12345600000000000", "60072800000000000", "00010000000000000", "99999999999999999"],
)
def test_unknown_iin(payload: str) -> None:
    """An 18-digit number (with a valid Luhn digit) starting with neither 600727 nor 0000."""
    text = _complete(payload)
    with pytest.raises(IdentifierError, match="must start with"):
        Pan.parse(text)


@pytest.mark.parametrize(("iin", "drn"), [("123456", "00000000000"), ("000", "0100000000008")])
def test_constructor_unknown_iin(iin: str, drn: str) -> None:
    """Pan() with an IIN other than 600727 / 0000 is refused."""
    with pytest.raises(IdentifierError):
        Pan(iin, drn)


@pytest.mark.parametrize(("iin", "drn"), [(IIN_LONG, "0100000000008"), (IIN_SHORT, "00000000000")])
def test_constructor_drn_length_must_match_iin(iin: str, drn: str) -> None:
    """A 13-digit DRN with IIN 600727, or an 11-digit DRN with 0000, is refused."""
    with pytest.raises(IdentifierError):
        Pan(iin, drn)


@settings(max_examples=200, deadline=None, database=None)
@given(payload=st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_any_luhn_completed_drn_parses(payload: str) -> None:
    """Any 10 digits + their Luhn digit is an 11-digit DRN: the PAN is 18 valid digits."""
    drn = _complete(payload)
    assert luhn_digit(payload) == int(drn[-1])
    pan = Pan.parse(drn)
    text = str(pan)
    assert len(text) == 18
    assert text.isascii()
    assert text.isdigit()
    assert text == IIN_LONG + drn + text[-1]
    assert _luhn_valid(text)
    assert luhn_digit(text[:17]) == int(text[-1])
    assert Pan.parse(text) == pan


@settings(max_examples=200, deadline=None, database=None)
@given(payload=st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_luhn_completed_13_digit_drn_parses(payload: str) -> None:
    """Any 12 digits + their Luhn digit is a 13-digit DRN under IIN 0000."""
    drn = _complete(payload)
    pan = Pan.parse(drn)
    text = str(pan)
    assert text == IIN_SHORT + drn + text[-1]
    assert _luhn_valid(text)
    assert Pan.parse(text) == pan


@settings(max_examples=200, deadline=None, database=None)
@given(
    payload=st.text(alphabet="0123456789", min_size=10, max_size=10),
    wrong=st.integers(1, 9),
)
def test_any_wrong_drn_digit_is_refused(payload: str, wrong: int) -> None:
    """Changing the Luhn digit of a valid DRN (a single-digit error) is always detected."""
    drn = _complete(payload)
    bad = drn[:-1] + str((int(drn[-1]) + wrong) % 10)
    with pytest.raises(IdentifierError, match="wrong check digit"):
        Pan.parse(bad)


# ------------------------------------------------------------------ SGC / TI / KRN / KEN


@pytest.mark.parametrize("sgc", ["000000", "999999", "123456", "201457"])
def test_check_sgc_accepts(sgc: str) -> None:
    """SPEC 5.1: an SGC is 6 decimal digits; it is returned unchanged."""
    assert check_sgc(sgc) == sgc


@pytest.mark.parametrize(
    "sgc", ["", "12345", "1234567", "12345a", " 12345", "12 456", "\u0661" * 6, "-12345"]
)
def test_check_sgc_rejects(sgc: str) -> None:
    """Anything but exactly 6 ASCII digits is refused."""
    with pytest.raises(IdentifierError):
        check_sgc(sgc)


@pytest.mark.parametrize(
    ("check", "low", "high"),
    [(check_ti, 0, 99), (check_krn, 1, 9), (check_ken, 0, 255)],
)
def test_range_checks_accept_bounds(check: Any, low: int, high: int) -> None:
    """SPEC 5.1: TI 0-99, KRN 1-9, KEN 0-255 (inclusive); the value is returned."""
    assert check(low) == low
    assert check(high) == high


@pytest.mark.parametrize(
    ("check", "low", "high"),
    [(check_ti, 0, 99), (check_krn, 1, 9), (check_ken, 0, 255)],
)
def test_range_checks_reject_outside(check: Any, low: int, high: int) -> None:
    """One below the lowest and one above the highest value are refused."""
    with pytest.raises(IdentifierError):
        check(low - 1)
    with pytest.raises(IdentifierError):
        check(high + 1)


@pytest.mark.parametrize("check", [check_ti, check_krn, check_ken])
@pytest.mark.parametrize("value", [True, 1.0, "1", None])
def test_range_checks_reject_non_int(check: Any, value: object) -> None:
    """Bools, floats, strings and None are not identifiers, even when they equal 1."""
    with pytest.raises(IdentifierError):
        check(value)
