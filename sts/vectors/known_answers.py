"""Known-answer vectors: decoder-key derivation, CRC, MISTY1, vendor meter key, STA trace.

Each checker takes one line and a :class:`~sts.vectors._schema._Check` and records every
value the codec computes differently from the line. :func:`_derive` is shared with the
token vectors, whose keys are derived the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from Crypto.Cipher import DES

from sts.codec import DecoderKey, join_class
from sts.crc import crc16_sts, token_crc
from sts.dkga import derive, dkga02, dkga02_blocks, dkga04_message
from sts.identifiers import Pan
from sts.misty1 import Misty1
from sts.sta import PRODUCTION, Sta, encrypt_reference, initial_round_key, permute, substitute
from sts.vectors._schema import Line, _Check, _hex, _opt, _opt_hex, _req, _SchemaError, _tables

_MASK64 = (1 << 64) - 1


# --- decoder-key derivation -----------------------------------------------------------------


def _meter_ids(obj: Line) -> dict[str, Any]:
    ids: dict[str, Any] = {name: _req(obj, name, int) for name in ("ti", "krn", "kt")}
    return {"sgc": _req(obj, "sgc", str), **ids}


def _derive(obj: Line) -> bytes:
    dkga, base_date, ea = _req(obj, "dkga", int), _opt(obj, "base_date", int), _req(obj, "ea", int)
    vending_key = bytes.fromhex(_hex(obj, "vending_key", 16, 40))
    pan = Pan.parse(_req(obj, "pan", str))
    if base_date is not None:
        return derive(dkga, vending_key, pan, **_meter_ids(obj), base_date=base_date, ea=ea)
    if dkga != 2 or ea != 7:
        raise _SchemaError(f"DKGA{dkga:02d}/EA{ea:02d} needs a base_date")
    return dkga02(vending_key, pan, **_meter_ids(obj))  # DKGA02 takes no base date


def _check_derivation(obj: Line, check: _Check) -> None:
    check.hex_bytes("decoder_key", _derive(obj), _hex(obj, "decoder_key", 16, 32))
    pan = Pan.parse(_req(obj, "pan", str))
    if _req(obj, "dkga", int) == 2:
        pan_block, control_block = dkga02_blocks(pan, **_meter_ids(obj))
        x = pan_block ^ control_block
        des = DES.new(bytes.fromhex(_hex(obj, "vending_key", 16)), DES.MODE_ECB)
        des_output = int.from_bytes(des.encrypt(x.to_bytes(8, "big")), "big")
        blocks = {"pan_block": pan_block, "control_block": control_block, "xor_block": x}
        for name, value in {**blocks, "des_output": des_output}.items():
            if (expected := _opt_hex(obj, name, 16)) is not None:
                check.hex(name, value, expected)
        return
    dates: dict[str, Any] = {"base_date": _req(obj, "base_date", int), "ea": _req(obj, "ea", int)}
    message = dkga04_message(pan, **_meter_ids(obj), **dates)
    if (expected := _opt_hex(obj, "hmac_message")) is not None:
        check.hex_bytes("hmac_message", message, expected)
    if (expected := _opt_hex(obj, "hmac_sha256", 64)) is not None:
        mac = hmac.new(bytes.fromhex(_hex(obj, "vending_key", 40)), message, hashlib.sha256)
        check.hex_bytes("hmac_sha256", mac.digest(), expected)


# --- known answers: CRC, MISTY1, STA --------------------------------------------------------


def _check_crc(obj: Line, check: _Check) -> None:
    data, crc_c = bytes.fromhex(_hex(obj, "crc_input_hex")), _req(obj, "crc_c", bool)
    got = crc16_sts(data + b"\x01" if crc_c else data)
    check.hex("crc", got, _hex(obj, "crc", 4))
    check.equal("crc_int", got, _req(obj, "crc_int", int))
    if len(data) == 7:
        check.equal("token_crc", token_crc(int.from_bytes(data, "big"), currency=crc_c), got)


def _check_misty1(obj: Line, check: _Check) -> None:
    cipher = Misty1(bytes.fromhex(_hex(obj, "key", 32)))
    plain, cipher_hex = _hex(obj, "plaintext", 16), _hex(obj, "ciphertext", 16)
    check.hex("ciphertext", cipher.encrypt(int(plain, 16)), cipher_hex)
    check.hex("plaintext (decrypted)", cipher.decrypt(int(cipher_hex, 16)), plain)


def _check_vendor_key(obj: Line, check: _Check) -> None:
    if (scheme := _req(obj, "scheme", str)) != "vendor_sta_nonstandard":
        raise _SchemaError(f"unknown vendor meter-key scheme {scheme!r}")
    blocks = int(_hex(obj, "pan_block", 16), 16) ^ int(_hex(obj, "control_block", 16), 16)
    block = int(input_hex := _hex(obj, "input_block", 16), 16)
    check.hex("input_block", ~blocks & _MASK64, input_hex)
    key, expected = bytes.fromhex(_hex(obj, "vending_key", 16)), _hex(obj, "expected_key", 16)
    check.hex("expected_key", Sta(key, PRODUCTION).encrypt(block), expected)
    check.hex("expected_key (reference STA)", encrypt_reference(block, key), expected)


def _check_trace(obj: Line, check: _Check) -> None:
    key, tables = int(_hex(obj, "decoder_key", 16), 16), _tables(obj)
    round_key, rounds = initial_round_key(key), _req(obj, "rounds", list)
    check.hex("initial_round_key", round_key, _hex(obj, "initial_round_key", 16))
    check.equal("number of rounds", len(rounds), 16)
    state = plain = int(_hex(obj, "plain64", 16), 16)
    for number, step in enumerate(rounds, 1):
        check.equal(f"round {number}: round", _req(step, "round", int), number)
        check.hex(f"round {number}: round_key", round_key, _hex(step, "round_key", 16))
        state = substitute(state, round_key, tables.s1, tables.s2)
        expected = _hex(step, "after_substitution", 16)
        check.hex(f"round {number}: after_substitution", state, expected)
        state = permute(state, tables.p)
        check.hex(f"round {number}: after_permutation", state, _hex(step, "after_permutation", 16))
        round_key = ((round_key << 1) | (round_key >> 63)) & _MASK64
    check.hex("enc64", state, enc64 := _hex(obj, "enc64", 16))
    decoder_key = DecoderKey(key.to_bytes(8, "big"), ea=7, tables=tables)
    check.hex("enc64 (table-driven STA)", decoder_key.encrypt(plain), enc64)
    check.hex("plain64 (decrypted)", decoder_key.decrypt(int(enc64, 16)), f"{plain:016X}")
    number = join_class(_req(obj, "token_class", int), int(enc64, 16))
    check.hex("token66_hex", number, _hex(obj, "token66_hex", 17))
    check.equal("token", f"{number:020d}", _req(obj, "token", str))
