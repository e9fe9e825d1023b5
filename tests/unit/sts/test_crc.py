"""Tests for :mod:`sts.crc`, the STS token CRC (CRC-16/MODBUS with its bytes swapped).

Expected values come from SPEC.md section 3.7, the shared vector files, or a bit-serial CRC
written out in this file, never from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.crc import crc16_modbus, crc16_sts, token_crc

# tests/unit/sts/test_crc.py -> parents[3] is the repository root; `shared` sits beside it.
VECTORS_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"

TOKEN_FILES = (
    "group_a.jsonl",
    "group_b.jsonl",
    "group_d.jsonl",
    "group_f.jsonl",
    "gh_public.jsonl",
    "iec_worked_example.jsonl",
)

# SPEC 3.7: reflected polynomial 0xA001 (= 0x8005 bit-reversed), init 0xFFFF, no final XOR.
POLY_REFLECTED = 0xA001
INIT = 0xFFFF


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    """Return the JSON objects of one vector file; fail (never skip) if it is missing."""
    path = VECTORS_DIR / name
    assert path.is_file(), f"vector file missing: {path}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _bitwise_modbus(data: bytes) -> int:
    """CRC-16/MODBUS as a plain shift register, one input bit at a time.

    Reflected CRC: bits enter least significant first. For each bit, the feedback is the
    register's low bit XOR the input bit; the register shifts right by one and, when the
    feedback is 1, is XORed with the reflected polynomial 0xA001.
    """
    reg = INIT
    for byte in data:
        for bit_index in range(8):
            feedback = (reg ^ (byte >> bit_index)) & 1
            reg >>= 1
            if feedback:
                reg ^= POLY_REFLECTED
    return reg


def _swap(reg: int) -> int:
    """Swap the two bytes of a 16-bit value (SPEC 3.7: the STS field holds MODBUS swapped)."""
    return ((reg & 0x00FF) << 8) | (reg >> 8)


def test_crc_vector_file() -> None:
    """Every line of crc.jsonl: crc16_sts (with 0x01 appended when crc_c) gives `crc`."""
    lines = _read_jsonl("crc.jsonl")
    assert len(lines) == 4
    wrong = []
    for line in lines:
        data = bytes.fromhex(line["crc_input_hex"])
        if line["crc_c"]:
            data += b"\x01"
        expected = int(line["crc"], 16)
        assert expected == line["crc_int"], f"{line['id']}: crc and crc_int disagree"
        got = crc16_sts(data)
        if got != expected:
            wrong.append(f"{line['id']}: got {got:04X}, expected {expected:04X}")
    assert wrong == []


def test_crc_vector_file_token_values() -> None:
    """The 7-byte lines of crc.jsonl: token_crc of the 50-bit value gives `crc`."""
    lines = [line for line in _read_jsonl("crc.jsonl") if len(line["crc_input_hex"]) == 14]
    # F/CRC-1..3 are 7-byte token values; the MODBUS check line is 9 ASCII bytes.
    assert len(lines) == 3
    for line in lines:
        value50 = int(line["crc_input_hex"], 16)
        assert value50 < 2**50, line["id"]
        assert token_crc(value50, currency=line["crc_c"]) == int(line["crc"], 16), line["id"]


def test_spec_crc_examples() -> None:
    """SPEC 3.7 examples: 0x000B19EB230100 -> 0xC207, 0x00004A2D900FF2 -> 0x0FFA, ... -> 0x1970."""
    assert token_crc(0x000B19EB230100) == 0xC207
    assert token_crc(0x00004A2D900FF2) == 0x0FFA
    # class 0 | subclass 0 | RND 5 | TID 0xC02A55 | amount 0x2710
    value50 = (0 << 48) | (0 << 44) | (5 << 40) | (0xC02A55 << 16) | 0x2710
    assert value50 == 0x0005C02A552710
    assert token_crc(value50) == 0x1970


def test_modbus_check_value() -> None:
    """The CRC-16/MODBUS catalogue check value over b"123456789" is 0x4B37."""
    assert crc16_modbus(b"123456789") == 0x4B37


def test_sts_check_value_is_byte_swapped() -> None:
    """The STS field over b"123456789" is the MODBUS check value swapped: 0x374B."""
    assert crc16_sts(b"123456789") == 0x374B


def test_empty_input_is_the_initial_register() -> None:
    """No input bytes and no final XOR: both forms return the initial value 0xFFFF."""
    assert crc16_modbus(b"") == 0xFFFF
    assert crc16_sts(b"") == 0xFFFF


def test_token_crc_covers_seven_big_endian_bytes() -> None:
    """token_crc(v) is crc16_sts over v as 7 big-endian bytes (leading zero bytes included)."""
    value50 = 0x000B19EB230100
    assert token_crc(value50) == crc16_sts(bytes.fromhex("000B19EB230100"))
    # Without the leading zero byte the CRC is different, so the width matters.
    assert token_crc(value50) != crc16_sts(bytes.fromhex("0B19EB230100"))


def test_crc_c_appends_one_byte() -> None:
    """CRC_C (currency) is the CRC over the 7 bytes followed by 0x01, and differs from CRC."""
    value50 = 0x000B19EB230100
    crc = token_crc(value50)
    crc_c = token_crc(value50, currency=True)
    assert crc_c == crc16_sts(bytes.fromhex("000B19EB230100") + b"\x01")
    assert crc == 0xC207  # SPEC 3.7
    assert crc_c != crc


@pytest.mark.parametrize("name", TOKEN_FILES)
def test_token_vectors_crc_field(name: str) -> None:
    """Every token line: token_crc(class<<48 | plain64>>16) is the low 16 bits of plain64.

    Currency lines (class 0, subclass 4-7) use CRC_C, and for them the plain CRC would give
    a different (wrong) field.
    """
    lines = _read_jsonl(name)
    assert lines
    wrong = []
    for line in lines:
        plain64 = int(line["expected"]["plain64"], 16)
        value50 = (line["token_class"] << 48) | (plain64 >> 16)
        expected = plain64 & 0xFFFF
        currency = line["kind"] == "currency"
        assert currency == (line["token_class"] == 0 and 4 <= line["subclass"] <= 7), line["id"]
        got = token_crc(value50, currency=currency)
        if got != expected:
            wrong.append(f"{line['id']}: got {got:04X}, expected {expected:04X}")
        if currency and token_crc(value50) == expected:
            wrong.append(f"{line['id']}: plain CRC also matches a CRC_C field")
    assert wrong == []


def test_public_vectors_include_currency_lines() -> None:
    """The CRC_C path is exercised: the public files hold 5 currency lines (vectors README)."""
    count = sum(
        1 for name in TOKEN_FILES for line in _read_jsonl(name) if line["kind"] == "currency"
    )
    assert count == 5


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=64))
def test_sts_is_byte_swap_of_modbus(data: bytes) -> None:
    """For any bytes, crc16_sts is crc16_modbus with its two bytes swapped."""
    modbus = crc16_modbus(data)
    assert 0 <= modbus <= 0xFFFF
    assert crc16_sts(data) == _swap(modbus)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=64))
def test_table_driven_agrees_with_bit_serial(data: bytes) -> None:
    """For any bytes, the table-driven CRC equals the bit-serial shift register in this file."""
    assert crc16_modbus(data) == _bitwise_modbus(data)


def test_bit_serial_reference_check_value() -> None:
    """The test's own bit-serial CRC gives the catalogue check value 0x4B37 (self-check)."""
    assert _bitwise_modbus(b"123456789") == 0x4B37


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=64))
def test_appending_crc_gives_zero_residue(data: bytes) -> None:
    """MODBUS property: data followed by its CRC, low byte first, has CRC 0.

    The STS field is that same pair of bytes read big-endian, so appending the field
    big-endian also leaves residue 0.
    """
    field = crc16_sts(data)
    assert crc16_modbus(data + field.to_bytes(2, "big")) == 0


@settings(max_examples=200, deadline=None, database=None)
@given(value50=st.integers(0, 2**50 - 1))
def test_token_crc_matches_bit_serial(value50: int) -> None:
    """For any 50-bit value, token_crc (both forms) matches the bit-serial CRC, swapped."""
    data = value50.to_bytes(7, "big")
    assert token_crc(value50) == _swap(_bitwise_modbus(data))
    assert token_crc(value50, currency=True) == _swap(_bitwise_modbus(data + b"\x01"))
