"""Tests for :mod:`sts.dkga`: decoder-key derivation DKGA02 (DES) and DKGA04 (HMAC-SHA-256).

Expected values come from SPEC.md section 5 and dk_derivation.jsonl. Intermediate steps are
checked with DES (pycryptodome) and HMAC-SHA-256 (standard library) called in the test, and
the DKGA04 message is also assembled here from the SPEC 5.3 layout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import DES

from sts.dkga import derive, dkga02, dkga02_blocks, dkga04, dkga04_message
from sts.errors import IdentifierError, KeyFormatError
from sts.identifiers import Pan

# tests/unit/sts/test_dkga.py -> parents[3] is the repository root; `shared` sits beside it.
VECTORS_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"

VK02 = bytes.fromhex("ABABABABABABABAB")
VK04 = bytes.fromhex("ABABABABABABABAB949494949494949401234567")
PAN_LONG = "600727000000000009"
PAN_SHORT = "000001000000000082"


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    """Return the JSON objects of one vector file; fail (never skip) if it is missing."""
    path = VECTORS_DIR / name
    assert path.is_file(), f"vector file missing: {path}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _rows() -> list[dict[str, Any]]:
    """The 36 rows of dk_derivation.jsonl (vectors README)."""
    rows = _read_jsonl("dk_derivation.jsonl")
    assert len(rows) == 36
    return rows


def _spec_message(row: dict[str, Any]) -> bytes:
    """DKGA04's HMAC message assembled from the SPEC 5.3 layout, field by field."""
    bits = 64 if row["ea"] == 7 else 128
    return b"".join(
        [
            b"\x04",  # number of label fields
            b"\x02" + b"04",  # algorithm id
            b"\x02" + f"{row['base_date'] % 100:02d}".encode(),  # "93" / "14" / "35"
            b"\x02" + f"{row['ea']:02d}".encode(),  # "07" / "11"
            b"\x02" + f"{row['ti']:02d}".encode(),
            b"\x00",  # separator
            b"\x04",  # number of context fields
            b"\x06" + row["sgc"].encode(),
            b"\x01" + f"{row['kt']:X}".encode(),
            b"\x01" + f"{row['krn']:X}".encode(),
            b"\x12" + row["pan"].encode(),  # 0x12 = 18 digits
            bits.to_bytes(4, "big"),
        ]
    )


def test_every_row_derives_its_decoder_key() -> None:
    """Every line of dk_derivation.jsonl: derive(...) gives `decoder_key`."""
    wrong = []
    for row in _rows():
        key = derive(
            row["dkga"],
            bytes.fromhex(row["vending_key"]),
            Pan.parse(row["pan"]),
            sgc=row["sgc"],
            ti=row["ti"],
            krn=row["krn"],
            kt=row["kt"],
            base_date=row["base_date"],
            ea=row["ea"],
        )
        expected = bytes.fromhex(row["decoder_key"])
        if key != expected:
            wrong.append(f"{row['id']}: got {key.hex().upper()}, expected {row['decoder_key']}")
    assert wrong == []


def test_row_counts_by_algorithm() -> None:
    """The file holds 6 DKGA02 rows and 30 DKGA04 rows, and DKGA04 spans EA07 and EA11."""
    rows = _rows()
    assert sum(row["dkga"] == 2 for row in rows) == 6
    assert sum(row["dkga"] == 4 for row in rows) == 30
    assert {row["ea"] for row in rows if row["dkga"] == 4} == {7, 11}
    assert {row["base_date"] for row in rows if row["dkga"] == 4} == {1993, 2014, 2035}


def test_dkga02_rows_via_dkga02() -> None:
    """The DKGA02 rows also hold through dkga02() directly (it takes no base date)."""
    for row in _rows():
        if row["dkga"] != 2:
            continue
        key = dkga02(
            bytes.fromhex(row["vending_key"]),
            Pan.parse(row["pan"]),
            sgc=row["sgc"],
            ti=row["ti"],
            krn=row["krn"],
            kt=row["kt"],
        )
        assert key == bytes.fromhex(row["decoder_key"]), row["id"]


def test_dkga02_intermediate_blocks() -> None:
    """Rows with published intermediates: PANBlock, ControlBlock, X, DES_VK(X), DK.

    dkga02_blocks gives pan_block and control_block; then in the test X = pan ^ control
    must be xor_block, DES_VK(X) must be des_output, and DES ^ X ^ VK the decoder key.
    """
    rows = [row for row in _rows() if row["pan_block"] is not None]
    assert [row["id"] for row in rows] == ["DK/02", "DK/04"]
    for row in rows:
        vk = bytes.fromhex(row["vending_key"])
        pan_block, control_block = dkga02_blocks(
            Pan.parse(row["pan"]), sgc=row["sgc"], ti=row["ti"], krn=row["krn"], kt=row["kt"]
        )
        assert pan_block == int(row["pan_block"], 16), row["id"]
        assert control_block == int(row["control_block"], 16), row["id"]
        x = pan_block ^ control_block
        assert x == int(row["xor_block"], 16), row["id"]
        des_out = DES.new(vk, DES.MODE_ECB).encrypt(x.to_bytes(8, "big"))  # noqa: S304
        assert des_out == bytes.fromhex(row["des_output"]), row["id"]
        dk = int.from_bytes(des_out, "big") ^ x ^ int.from_bytes(vk, "big")
        assert dk.to_bytes(8, "big") == bytes.fromhex(row["decoder_key"]), row["id"]


def test_dkga02_spec_example_blocks() -> None:
    """SPEC 5.2: PANBlocks 0072700000000000 / 0000100000000008; KT 2 SGC 123456 TI 01 KRN 1.

    ControlBlock = "2" + "123456" + "01" + "1" + "FFFFFF" = 2123456011FFFFFF.
    """
    long_block, control = dkga02_blocks(Pan.parse(PAN_LONG), sgc="123456", ti=1, krn=1, kt=2)
    assert long_block == 0x0072700000000000
    assert control == 0x2123456011FFFFFF
    short_block, _ = dkga02_blocks(Pan.parse(PAN_SHORT), sgc="123456", ti=1, krn=1, kt=2)
    assert short_block == 0x0000100000000008


def test_dkga02_control_block_is_bcd() -> None:
    """TI and KRN sit in the control block as decimal digits: TI 42, KRN 9, KT 0, SGC 987654.

    "0" + "987654" + "42" + "9" + "FFFFFF" -> 0x0987654429FFFFFF.
    """
    _, control = dkga02_blocks(Pan.parse(PAN_LONG), sgc="987654", ti=42, krn=9, kt=0)
    assert control == 0x0987654429FFFFFF


def test_dkga04_hmac_message_rows() -> None:
    """Rows with hmac_message: dkga04_message is byte-exact, and HMAC-SHA-256 matches.

    The HMAC is computed in the test with hmac/hashlib; the key is its first 8 (EA07)
    or 16 (EA11) bytes.
    """
    rows = [row for row in _rows() if row["hmac_message"] is not None]
    assert [row["id"] for row in rows] == ["DK/20", "DK/25"]
    for row in rows:
        vk = bytes.fromhex(row["vending_key"])
        message = dkga04_message(
            Pan.parse(row["pan"]),
            sgc=row["sgc"],
            ti=row["ti"],
            krn=row["krn"],
            kt=row["kt"],
            base_date=row["base_date"],
            ea=row["ea"],
        )
        assert message == bytes.fromhex(row["hmac_message"]), row["id"]
        digest = hmac.new(vk, message, hashlib.sha256).digest()
        assert digest == bytes.fromhex(row["hmac_sha256"]), row["id"]
        size = 8 if row["ea"] == 7 else 16
        assert digest[:size] == bytes.fromhex(row["decoder_key"]), row["id"]


def test_dkga04_message_matches_spec_layout_for_every_row() -> None:
    """Every DKGA04 row: dkga04_message equals the SPEC 5.3 layout built in the test.

    Also, HMAC of that test-built message gives the row's decoder key, which confirms the
    layout independently of the module on all 30 rows.
    """
    for row in _rows():
        if row["dkga"] != 4:
            continue
        expected = _spec_message(row)
        message = dkga04_message(
            Pan.parse(row["pan"]),
            sgc=row["sgc"],
            ti=row["ti"],
            krn=row["krn"],
            kt=row["kt"],
            base_date=row["base_date"],
            ea=row["ea"],
        )
        assert message == expected, row["id"]
        digest = hmac.new(bytes.fromhex(row["vending_key"]), expected, hashlib.sha256).digest()
        assert digest[: len(row["decoder_key"]) // 2] == bytes.fromhex(row["decoder_key"])


def test_dkga04_spec_example() -> None:
    """SPEC 5.3: VK ABAB..4567, BD 93, EA 07, TI 01, SGC 123457, KT 2, KRN 1 -> AA4BAA8749C10D27."""
    key = dkga04(VK04, Pan.parse(PAN_LONG), sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=7)
    assert key == bytes.fromhex("AA4BAA8749C10D27")


def test_dkga04_differs_between_base_dates() -> None:
    """Same meter and key, base dates 1993 / 2014 / 2035: three different keys.

    From the vectors, PAN ...0009, SGC 123457, TI 1, KRN 1, KT 2, EA07: DK/20 (1993) is
    AA4BAA8749C10D27. The code must give it and distinct keys for 2014 and 2035.
    """
    pan = Pan.parse(PAN_LONG)
    keys = {
        base_date: dkga04(VK04, pan, sgc="123457", ti=1, krn=1, kt=2, base_date=base_date, ea=7)
        for base_date in (1993, 2014, 2035)
    }
    assert keys[1993] == bytes.fromhex("AA4BAA8749C10D27")
    assert len(set(keys.values())) == 3
    messages = {
        dkga04_message(pan, sgc="123457", ti=1, krn=1, kt=2, base_date=base_date, ea=7)
        for base_date in (1993, 2014, 2035)
    }
    assert len(messages) == 3


def test_dkga04_differs_between_ea07_and_ea11() -> None:
    """EA07 keys are 8 bytes, EA11 keys 16, and the EA07 key is not a prefix of the EA11 one.

    Vectors, PAN ...0009, BD 1993, SGC 123457, TI 1, KRN 1, KT 2: DK/20 (EA07)
    AA4BAA8749C10D27 and DK/32 (EA11) F94B6ED353C3BFDB113E2D3A7EA3C41D.
    """
    pan = Pan.parse(PAN_LONG)
    ea07 = dkga04(VK04, pan, sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=7)
    ea11 = dkga04(VK04, pan, sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=11)
    assert len(ea07) == 8
    assert len(ea11) == 16
    assert ea07 == bytes.fromhex("AA4BAA8749C10D27")
    assert ea11 == bytes.fromhex("F94B6ED353C3BFDB113E2D3A7EA3C41D")
    assert ea11[:8] != ea07


def test_vector_row_key_lengths() -> None:
    """Every row's decoder key has 16 hex digits for EA07 and 32 for EA11."""
    for row in _rows():
        assert len(row["decoder_key"]) == (16 if row["ea"] == 7 else 32), row["id"]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("size", [0, 7, 9, 16, 20])
def test_dkga02_vending_key_length(size: int) -> None:
    """DKGA02 needs an 8-byte DES vending key; other lengths raise KeyFormatError."""
    pan = Pan.parse(PAN_LONG)
    with pytest.raises(KeyFormatError):
        dkga02(bytes(size), pan, sgc="123456", ti=1, krn=1, kt=2)
    with pytest.raises(KeyFormatError):
        derive(2, bytes(size), pan, sgc="123456", ti=1, krn=1, kt=2, base_date=1993, ea=7)


@pytest.mark.parametrize("size", [0, 8, 16, 19, 21, 32])
def test_dkga04_vending_key_length(size: int) -> None:
    """DKGA04 needs a 20-byte vending key; other lengths raise KeyFormatError."""
    pan = Pan.parse(PAN_LONG)
    with pytest.raises(KeyFormatError):
        dkga04(bytes(size), pan, sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=7)
    with pytest.raises(KeyFormatError):
        derive(4, bytes(size), pan, sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=11)


@pytest.mark.parametrize("dkga", [0, 1, 3, 5])
def test_unknown_dkga(dkga: int) -> None:
    """Only DKGA02 and DKGA04 are implemented; DKGA01/03 and others raise IdentifierError."""
    with pytest.raises(IdentifierError):
        derive(
            dkga, VK02, Pan.parse(PAN_LONG), sgc="123456", ti=1, krn=1, kt=2, base_date=1993, ea=7
        )


def test_dkga02_with_ea11() -> None:
    """DKGA02 makes 64-bit keys only, so asking for an EA11 key raises IdentifierError."""
    with pytest.raises(IdentifierError):
        derive(2, VK02, Pan.parse(PAN_LONG), sgc="123456", ti=1, krn=1, kt=2, base_date=1993, ea=11)


@pytest.mark.parametrize("ea", [0, 9, 10, 12, 711])
def test_dkga04_bad_ea(ea: int) -> None:
    """DKGA04 serves EA07 and EA11 only; other EA numbers raise IdentifierError."""
    pan = Pan.parse(PAN_LONG)
    with pytest.raises(IdentifierError):
        derive(4, VK04, pan, sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=ea)
    with pytest.raises(IdentifierError):
        dkga04_message(pan, sgc="123457", ti=1, krn=1, kt=2, base_date=1993, ea=ea)


@pytest.mark.parametrize("dkga", [2, 4])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kt", 4),
        ("kt", -1),
        ("kt", True),
        ("ti", 100),
        ("ti", -1),
        ("krn", 0),
        ("krn", 10),
        ("sgc", "12345"),
        ("sgc", "1234567"),
        ("sgc", "12345a"),
    ],
)
def test_bad_meter_parameters(dkga: int, field: str, value: object) -> None:
    """Out-of-range KT (0-3; a bool is not a key type), TI, KRN or SGC raise IdentifierError."""
    params: dict[str, Any] = {"sgc": "123457", "ti": 1, "krn": 1, "kt": 2}
    params[field] = value
    vk = VK02 if dkga == 2 else VK04
    with pytest.raises(IdentifierError):
        derive(dkga, vk, Pan.parse(PAN_LONG), base_date=1993, ea=7, **params)


@pytest.mark.parametrize("base_date", [1992, 2000, 93, 0])
def test_dkga04_bad_base_date(base_date: int) -> None:
    """DKGA04 binds the base date; only 1993, 2014 and 2035 are accepted."""
    pan = Pan.parse(PAN_LONG)
    with pytest.raises(IdentifierError):
        derive(4, VK04, pan, sgc="123457", ti=1, krn=1, kt=2, base_date=base_date, ea=7)
    with pytest.raises(IdentifierError):
        dkga04_message(pan, sgc="123457", ti=1, krn=1, kt=2, base_date=base_date, ea=11)


def test_dkga02_ignores_base_date() -> None:
    """DKGA02 takes no base date (SPEC 5.2): DK/04's key comes out for each valid base date."""
    pan = Pan.parse(PAN_LONG)
    for base_date in (1993, 2014, 2035):
        key = derive(2, VK02, pan, sgc="123456", ti=1, krn=1, kt=2, base_date=base_date, ea=7)
        assert key == bytes.fromhex("E653341F9D5BF36F")
