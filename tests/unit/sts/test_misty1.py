"""Tests for :mod:`sts.misty1`, the MISTY1 cipher (RFC 2994) used as STS EA11.

Expected values come only from RFC 2994 and from the shared STS vector files,
never from the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.errors import FieldError, KeyFormatError
from sts.misty1 import Misty1, decrypt_block, encrypt_block, expand_key

# The `shared` folder sits beside the repository root (tests/unit/sts -> repo root).
VECTORS_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "sts" / "vectors"

# RFC 2994, section "Test Data".
RFC_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
RFC_EXPANDED_KEY = (0xCF51, 0x8E7F, 0x5E29, 0x673A, 0xCDBC, 0x07D6, 0xBF35, 0x5E11)
RFC_PAIRS = [
    (0x0123456789ABCDEF, 0x8B1DA5F56AB3D07C),
    (0xFEDCBA9876543210, 0x04B68240B13BE95D),
]

EA11_FILES = ["group_b.jsonl", "gh_public.jsonl"]


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    """Return the JSON objects of one vector file; fail (never skip) if it is missing."""
    path = VECTORS_DIR / name
    assert path.is_file(), f"vector file missing: {path.resolve()}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _ea11_lines(name: str) -> list[dict[str, Any]]:
    """Return the lines of ``name`` whose token cipher is EA11 (MISTY1)."""
    lines = [line for line in _read_jsonl(name) if line.get("ea") == 11]
    assert lines, f"{name} has no EA11 lines"
    return lines


@pytest.mark.parametrize(("plain", "cipher"), RFC_PAIRS)
def test_rfc2994_known_answers(plain: int, cipher: int) -> None:
    """RFC 2994 test data: the class and the one-shot functions encrypt and decrypt it."""
    misty = Misty1(RFC_KEY)
    assert misty.encrypt(plain) == cipher
    assert misty.decrypt(cipher) == plain
    assert encrypt_block(RFC_KEY, plain) == cipher
    assert decrypt_block(RFC_KEY, cipher) == plain


def test_rfc2994_expanded_key() -> None:
    """RFC 2994 test data: the key schedule gives K'_1..K'_8 = CF51 8E7F ... 5E11."""
    assert expand_key(RFC_KEY) == RFC_EXPANDED_KEY


def test_rfc2994_vector_file() -> None:
    """The shared misty1_rfc2994.jsonl known answers hold in both directions."""
    lines = _read_jsonl("misty1_rfc2994.jsonl")
    assert lines
    for line in lines:
        misty = Misty1(bytes.fromhex(line["key"]))
        plain = int(line["plaintext"], 16)
        cipher = int(line["ciphertext"], 16)
        assert misty.encrypt(plain) == cipher, line["id"]
        assert misty.decrypt(cipher) == plain, line["id"]


@pytest.mark.parametrize("name", EA11_FILES)
def test_sts_ea11_tokens_encrypt(name: str) -> None:
    """Every EA11 line: MISTY1 under decoder_key maps expected.plain64 to expected.enc64."""
    wrong = []
    for line in _ea11_lines(name):
        key = bytes.fromhex(line["decoder_key"])
        plain = int(line["expected"]["plain64"], 16)
        enc = int(line["expected"]["enc64"], 16)
        got = Misty1(key).encrypt(plain)
        if got != enc:
            wrong.append(f"{line['id']}: got {got:016X}, expected {enc:016X}")
    assert wrong == []


@pytest.mark.parametrize("name", EA11_FILES)
def test_sts_ea11_tokens_decrypt(name: str) -> None:
    """Every EA11 line: MISTY1 decryption under decoder_key maps enc64 back to plain64."""
    wrong = []
    for line in _ea11_lines(name):
        key = bytes.fromhex(line["decoder_key"])
        plain = int(line["expected"]["plain64"], 16)
        enc = int(line["expected"]["enc64"], 16)
        got = Misty1(key).decrypt(enc)
        if got != plain:
            wrong.append(f"{line['id']}: got {got:016X}, expected {plain:016X}")
    assert wrong == []


@settings(database=None, deadline=None, max_examples=200)
@given(key=st.binary(min_size=16, max_size=16), block=st.integers(0, 2**64 - 1))
def test_round_trip(key: bytes, block: int) -> None:
    """For any key and block, decrypt undoes encrypt and encrypt undoes decrypt."""
    misty = Misty1(key)
    assert misty.decrypt(misty.encrypt(block)) == block
    assert misty.encrypt(misty.decrypt(block)) == block
    assert decrypt_block(key, encrypt_block(key, block)) == block


@pytest.mark.parametrize("block", [0, 2**64 - 1])
def test_block_range_edges_accepted(block: int) -> None:
    """The smallest and largest 64-bit blocks are valid inputs in both directions."""
    misty = Misty1(RFC_KEY)
    assert misty.decrypt(misty.encrypt(block)) == block


@pytest.mark.parametrize("size", [0, 1, 8, 15, 17, 24, 32])
def test_bad_key_length_raises_key_format_error(size: int) -> None:
    """A key that is not exactly 16 bytes raises KeyFormatError naming its length."""
    message = re.escape(f"MISTY1 needs a 16-byte key, got {size} bytes")
    key = bytes(range(size))
    with pytest.raises(KeyFormatError, match=message):
        Misty1(key)
    with pytest.raises(KeyFormatError, match=message):
        expand_key(key)
    with pytest.raises(KeyFormatError, match=message):
        encrypt_block(key, 0)
    with pytest.raises(KeyFormatError, match=message):
        decrypt_block(key, 0)


@pytest.mark.parametrize("key", ["00112233445566778899AABBCCDDEEFF", "0123456789ABCDEF", 16])
def test_non_bytes_key_raises_type_error(key: object) -> None:
    """A hex string or an int is not silently used as a key: TypeError."""
    with pytest.raises(TypeError, match="MISTY1 key must be bytes"):
        Misty1(key)  # type: ignore[arg-type]


@pytest.mark.parametrize("block", [-1, 2**64, 2**66, -(2**64)])
def test_out_of_range_block_raises_field_error(block: int) -> None:
    """Blocks outside 0 .. 2**64 - 1 raise FieldError in both directions."""
    misty = Misty1(RFC_KEY)
    message = "MISTY1 block must be a 64-bit unsigned integer"
    with pytest.raises(FieldError, match=message):
        misty.encrypt(block)
    with pytest.raises(FieldError, match=message):
        misty.decrypt(block)
    with pytest.raises(FieldError, match=message):
        encrypt_block(RFC_KEY, block)
    with pytest.raises(FieldError, match=message):
        decrypt_block(RFC_KEY, block)


@pytest.mark.parametrize("block", [1.0, "0123456789ABCDEF", b"\x00" * 8])
def test_non_int_block_raises_type_error(block: object) -> None:
    """A float, hex string or bytes block raises TypeError rather than a wrong answer."""
    misty = Misty1(RFC_KEY)
    with pytest.raises(TypeError, match="MISTY1 block must be an int"):
        misty.encrypt(block)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="MISTY1 block must be an int"):
        misty.decrypt(block)  # type: ignore[arg-type]
