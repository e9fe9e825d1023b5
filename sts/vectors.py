"""Run STS test vectors (schema: ``shared/sts/vectors/README.md``) against this codec.

Pure: no file I/O. :func:`check_line` takes one parsed JSON object of any vector file and
returns its mismatches (an empty list is a pass); :func:`run_lines` runs raw text lines and
counts them. A line's kind is recognised by its keys: ``kind`` (token vector), ``rounds``
(EA07 STA trace), ``crc_input_hex`` (CRC), ``plaintext`` + ``ciphertext`` (MISTY1),
``scheme`` / ``input_block`` (vendor meter-key scheme: an EA07 STA known answer) and
``dkga`` + ``decoder_key`` (DKGA02/DKGA04 derivation).

Token vectors run both directions of the README's "Running a vector": *encode* derives the
key, computes the TID from ``issued_at``, encodes the requested amount, builds the token and
compares plain64, enc64 and the token; *decode* takes the token and ``decoder_key`` and
compares every field the line gives. A malformed line (missing key, wrong type, unknown
kind) and any error the codec raises are reported as mismatches, never raised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from string import hexdigits
from typing import Any, TypeVar

from Crypto.Cipher import DES

from sts.amount import CurrencyAmount, encode_amount, encode_currency
from sts.codec import DecoderKey, decode, encode, join_class, parse_token, plain_block, split_class
from sts.crc import crc16_sts, token_crc
from sts.dkga import derive, dkga02, dkga02_blocks, dkga04_message
from sts.errors import StsError
from sts.identifiers import KeyType, Pan, check_sgc
from sts.keychange import KeyChange
from sts.misty1 import Misty1
from sts.sta import (
    IEC_SAMPLE,
    PRODUCTION,
    Sta,
    StaTables,
    encrypt_reference,
    initial_round_key,
    permute,
    substitute,
)
from sts.tid import tid_at
from sts.tokens import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    ExtendedSet,
    InitiateMeterTest,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    KeyChangeSection,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TokenClass,
    TransferCredit,
    Utility,
)

__all__ = [
    "KIND_NAMES",
    "Failure",
    "VectorReport",
    "check_line",
    "run_lines",
    "vector_lines",
]

Line = dict[str, Any]
_T = TypeVar("_T")
_MASK64, _WORD = (1 << 64) - 1, 0xFFFFFFFF
_UNITS = {0: "kWh", 1: "m3", 2: "m3", 3: None}  # credit subclass -> unit (time: unconfirmed)


class _SchemaError(ValueError):
    """A line does not follow the schema (missing key, wrong type, unknown kind)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One mismatch of one vector: where the line is, which vector, what differs."""

    source: str
    vector_id: str
    mismatch: str

    def __str__(self) -> str:
        return f"FAIL {self.source} {self.vector_id}: {self.mismatch}"


@dataclass(slots=True)
class VectorReport:
    """The outcome of a run: how many vectors passed and failed, and every mismatch."""

    passed: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no vector failed."""
        return self.failed == 0

    @property
    def summary(self) -> str:
        """The closing line of a run: ``N passed, M failed``."""
        return f"{self.passed} passed, {self.failed} failed"

    def add(self, source: str, vector_id: str, mismatches: list[str]) -> None:
        """Count one vector and record its mismatches, if any."""
        if mismatches:
            self.failed += 1
            self.failures.extend(Failure(source, vector_id, text) for text in mismatches)
        else:
            self.passed += 1


class _Check:
    """Collects mismatches, each with a prefix (``encode: ``, ``decode: ``)."""

    def __init__(self, out: list[str], prefix: str = "") -> None:
        self.out, self.prefix = out, prefix

    def fail(self, text: str) -> None:
        self.out.append(self.prefix + text)

    def equal(self, name: str, got: object, expected: object) -> None:
        if got != expected or type(got) is not type(expected):
            self.fail(f"{name}: expected {expected!r}, got {got!r}")

    def hex(self, name: str, got: int, expected: str) -> None:
        """Compare a number with validated hex digits, at their width."""
        if (text := f"{got:0{len(expected)}X}") != expected:
            self.fail(f"{name}: expected {expected}, got {text}")

    def hex_bytes(self, name: str, got: bytes, expected: str) -> None:
        if (text := got.hex().upper()) != expected:
            self.fail(f"{name}: expected {expected}, got {text}")


# --- typed access to a line -----------------------------------------------------------------


def _opt(obj: Line, key: str, kind: type[_T]) -> _T | None:
    """``obj[key]`` if it is a ``kind`` (a bool is no int here) or null, else malformed."""
    if not isinstance(obj, dict):
        raise _SchemaError(f"expected a JSON object holding {key!r}, got {type(obj).__name__}")
    if key not in obj:
        raise _SchemaError(f"missing key {key!r}")
    value = obj[key]
    if value is None or (isinstance(value, kind) and (kind is bool or type(value) is not bool)):
        return value
    raise _SchemaError(f"{key} must be {kind.__name__} or null, got {value!r}")


def _req(obj: Line, key: str, kind: type[_T]) -> _T:
    """``obj[key]``: a ``kind``, not null."""
    if (value := _opt(obj, key, kind)) is None:
        raise _SchemaError(f"{key} must be {kind.__name__}, got null")
    return value


def _opt_hex(obj: Line, key: str, *digits: int) -> str | None:
    """Hex digits (either case, returned upper) of a width in ``digits`` (none: even)."""
    if (value := _opt(obj, key, str)) is None:
        return None
    width_ok = len(value) in digits if digits else len(value) % 2 == 0
    if not value or not width_ok or any(char not in hexdigits for char in value):
        widths = " or ".join(map(str, digits)) if digits else "an even number of"
        raise _SchemaError(f"{key} must be {widths} hex digits, got {value!r}")
    return value.upper()


def _hex(obj: Line, key: str, *digits: int) -> str:
    if (value := _opt_hex(obj, key, *digits)) is None:
        raise _SchemaError(f"{key} must be hex digits, got null")
    return value


def _tables(obj: Line) -> StaTables:
    name = obj.get("sta_tables")
    if name in (None, "production"):
        return PRODUCTION
    if name == "iec_sample":
        return IEC_SAMPLE
    raise _SchemaError(f"unknown sta_tables {name!r}")


# --- running lines --------------------------------------------------------------------------


def check_line(obj: Line) -> list[str]:
    """Return the mismatches of one vector line of any kind (empty when it passes)."""
    candidate: object = obj  # callers may hand over any JSON value
    if not isinstance(candidate, dict):
        return [f"a vector line must be a JSON object, got {type(candidate).__name__}"]
    checkers = (
        ("kind", _check_token_vector),
        ("rounds", _check_trace),
        ("crc_input_hex", _check_crc),
        ("ciphertext", _check_misty1),
        ("input_block", _check_vendor_key),
        ("scheme", _check_vendor_key),
        ("decoder_key", _check_derivation),
    )
    for key, checker in checkers:
        if key in obj:
            out: list[str] = []
            _guarded(checker, obj, _Check(out))
            return out
    return [f"unrecognised vector line (keys: {', '.join(sorted(obj)) or 'none'})"]


def _guarded(checker: Callable[[Line, _Check], None], obj: Line, check: _Check) -> None:
    """Run ``checker``, turning any error it meets into a mismatch."""
    try:
        checker(obj, check)
    except _SchemaError as exc:
        check.fail(f"malformed line: {exc}")
    except (StsError, KeyError, TypeError, ValueError, IndexError) as exc:
        check.fail(f"{type(exc).__name__}: {exc}")


def vector_lines(name: str, text: str) -> list[tuple[str, str]]:
    """Split one file's text into ``(label, text)`` pairs for :func:`run_lines`.

    A file whose whole content is one JSON object (``sta_trace.json``) is one vector, labelled
    ``name:1``; otherwise each line is one (JSON Lines), labelled ``name:<line number>``.
    """
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        return [(f"{name}:1", text)]
    return [(f"{name}:{number}", line) for number, line in enumerate(text.splitlines(), 1)]


def run_lines(lines: Iterable[tuple[str, str]]) -> VectorReport:
    """Run ``(source label, raw text)`` lines: blank lines are skipped, bad JSON fails."""
    report = VectorReport()
    for source, text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:
            report.add(source, "?", [f"not valid JSON: {exc}"])
            continue
        vector_id = obj.get("id") if isinstance(obj, dict) else None
        report.add(source, "?" if vector_id is None else str(vector_id), check_line(obj))
    return report


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


# --- token vectors: encode ------------------------------------------------------------------


def _check_token_vector(obj: Line, check: _Check) -> None:
    if (kind := _req(obj, "kind", str)) not in _BUILDERS:
        raise _SchemaError(f"unknown kind {kind!r}")
    if missing := [key for key in _COMMON_KEYS if key not in obj]:
        raise _SchemaError(f"missing keys {', '.join(missing)}")
    for name in _NULL_BY_KIND.get(kind, ()):
        if obj[name] is not None:
            check.fail(f"{name} must be null on {kind} lines, got {obj[name]!r}")
    if (obj["ea"] == 7) != (obj["sta_tables"] is not None):
        check.fail(f"sta_tables must be given on EA07 lines only, got {obj['sta_tables']!r}")
    _guarded(_encode, obj, _Check(check.out, "encode: "))
    _guarded(_decode, obj, _Check(check.out, "decode: "))


_COMMON_KEYS = (
    *("id", "group", "source", "kind", "token_class", "subclass", "pan", "sgc", "ti", "krn"),
    *("kt", "base_date", "ea", "dkga", "vending_key", "decoder_key", "sta_tables"),
    *("issued_at", "tid", "reserved_minute_shift", "rnd", "expected", "note"),
)
_NULL_BY_KIND = {
    "currency": ("rnd",),
    "kct": ("issued_at", "tid", "rnd"),
    "test": ("issued_at", "tid", "rnd", "ea", "dkga", "vending_key", "decoder_key", "pan"),
}


def _line_key(obj: Line) -> DecoderKey | None:
    if (text := _opt_hex(obj, "decoder_key", 16, 32)) is None:
        return None
    return DecoderKey.from_hex(text, ea=_opt(obj, "ea", int), tables=_tables(obj))


def _encode_key(obj: Line, check: _Check) -> DecoderKey | None:
    """The key to encrypt with: derived from ``vending_key`` when there is one."""
    if _opt_hex(obj, "vending_key", 16, 40) is None:
        return _line_key(obj)
    key = _derive(obj)
    check.hex_bytes("decoder_key (derived)", key, _hex(obj, "decoder_key", 16, 32))
    return DecoderKey(key, ea=_req(obj, "ea", int), tables=_tables(obj))


def _encode_tid(obj: Line, check: _Check) -> int | None:
    """The TID from ``issued_at`` and ``base_date``, else ``tid`` as given."""
    issued, shift = _opt(obj, "issued_at", str), _opt(obj, "reserved_minute_shift", bool)
    if issued is None:
        check.equal("reserved_minute_shift", shift, None)
        return _opt(obj, "tid", int)
    when = datetime.strptime(issued, "%Y-%m-%dT%H:%M")  # noqa: DTZ007 - naive by the schema
    tid = tid_at(when, _req(obj, "base_date", int))
    check.equal("tid", tid, _opt(obj, "tid", int))
    check.equal("reserved_minute_shift", (when.hour, when.minute) == (0, 1), shift)
    return tid


def _encode(obj: Line, check: _Check) -> None:
    expected = _req(obj, "expected", dict)
    key, tid = _encode_key(obj, check), _encode_tid(obj, check)
    token = _BUILDERS[_req(obj, "kind", str)](obj, check, tid)
    check.equal("token_class", int(token.token_class), _req(obj, "token_class", int))
    check.equal("subclass", token.subclass, _req(obj, "subclass", int))
    plain = plain_block(token)
    check.hex("plain64", plain, _hex(expected, "plain64", 16))
    if token.token_class != TokenClass.METER_TEST:
        if key is None:
            raise _SchemaError("decoder_key is null but the token is encrypted")
        check.hex("enc64", key.encrypt(plain), _hex(expected, "enc64", 16))
    elif (enc64 := _opt_hex(expected, "enc64", 16)) is not None:
        check.fail(f"enc64 must be null for a class 1 token, got {enc64}")
    check.equal("token", encode(token, key), _req(expected, "token", str))


def _tid(tid: int | None) -> int:
    if tid is None:
        raise _SchemaError("tid must be int, got null")
    return tid


def _amount(obj: Line, check: _Check, requested_key: str) -> int:
    """The 16-bit field: ``requested_key`` encoded (and compared), else as given."""
    field16, requested = _req(obj, "amount_field", int), _opt(obj, requested_key, int)
    if requested is None:
        return field16
    encoded = encode_amount(requested)
    check.equal(f"amount_field (encoded from {requested_key})", encoded, field16)
    return encoded


def _build_credit(obj: Line, check: _Check, tid: int | None) -> Token:
    amount, utility = _amount(obj, check, "requested_tenths"), Utility(_req(obj, "subclass", int))
    rnd = _req(obj, "rnd", int)
    return TransferCredit(utility=utility, tid=_tid(tid), rnd=rnd, amount_field=amount)


def _build_currency(obj: Line, check: _Check, tid: int | None) -> Token:
    if (requested := _opt(obj, "requested_units", int)) is None:
        field16, nibble = _req(obj, "amount_field", int), _req(obj, "sign_exponent", int)
        amount = CurrencyAmount.from_fields(field16, nibble)
    else:
        amount = encode_currency(requested)
        for name in ("amount_field", "sign_exponent", "sign", "exponent", "mantissa", "units"):
            got = getattr(amount, name)
            check.equal(f"{name} (encoded from requested_units)", got, _req(obj, name, int))
    utility = Utility(_req(obj, "subclass", int) - 4)
    return CurrencyTransfer(utility=utility, tid=_tid(tid), amount=amount)


def _build_management(obj: Line, check: _Check, tid: int | None) -> Token:  # noqa: PLR0911 - by kind
    """Class 2 kinds with a TID: the field is given, or encoded from ``requested_watts``."""
    kind, args = _req(obj, "kind", str), {"tid": _tid(tid), "rnd": _req(obj, "rnd", int)}
    field16 = _req(obj, "amount_field", int)
    if kind in ("set_max_power_limit", "set_mppul"):
        watts = _amount(obj, check, "requested_watts")
        if kind == "set_mppul":
            return SetMaximumPhasePowerUnbalanceLimit(**args, amount_field=watts)
        return SetMaximumPowerLimit(**args, amount_field=watts)
    if kind == "clear_credit":
        check.equal("register (= amount_field)", _req(obj, "register", int), field16)
        return ClearCredit(**args, register=_req(obj, "register", int))
    if kind == "extended_set":
        index, value = _req(obj, "ext_index", int), _req(obj, "ext_value", int)
        token = ExtendedSet(**args, index=index, value=value)
        check.equal("amount_field (from ext_index, ext_value)", token.field16, field16)
        return token
    if kind == "set_tariff_rate":
        return SetTariffRate(**args, rate=field16)
    if kind == "set_water_meter_factor":
        return SetWaterMeterFactor(**args, factor=field16)
    return ClearTamperCondition(**args, pad=field16)


def _build_test(obj: Line, check: _Check, tid: int | None) -> Token:
    subclass, payload = _req(obj, "subclass", int), _req(obj, "payload", int)
    if (control := _opt(obj, "control", int)) is None:  # subclass 2: the payload alone
        return InitiateMeterTest(subclass=subclass, data=payload)
    code = _req(obj, "manufacturer_code", int)
    token = InitiateMeterTest.build(control, code, subclass=subclass)
    check.equal("payload (from control, manufacturer_code)", token.data, payload)
    return token


def _new_key(obj: Line) -> tuple[int, bool]:
    """The new decoder key as a number, and whether it has 128 bits (EA11)."""
    text = _hex(obj, "new_decoder_key", 16, 32)
    return int(text, 16), len(text) == 32


def _new_sgc(obj: Line) -> int:
    if (text := _opt(obj, "new_sgc", str)) is None:
        raise _SchemaError("new_sgc is null but sections 3 and 4 carry it")
    return int(check_sgc(text))


def _kct_section(obj: Line, section: int) -> KeyChangeSection:
    """Build a section from the line's fields by the README's layout table."""
    key, wide = _new_key(obj)
    if section == 1:
        krn, kt, ro, res = (_req(obj, name, int) for name in ("new_krn", "new_kt", "ro", "res"))
        bits, kenho = (key >> (96 if wide else 32)) & _WORD, _req(obj, "kenho", int)
        return KeyChange1(kenho=kenho, krn=krn, ro=ro, res=res, kt=kt, key_bits=bits)
    if section == 2:
        kenlo, ti = _req(obj, "kenlo", int), _req(obj, "new_ti", int)
        return KeyChange2(kenlo=kenlo, ti=ti, key_bits=key & _WORD)
    sgc = _new_sgc(obj)
    if section == 3 and not wide:
        return KeyChange3(high=sgc >> 12, key_bits=(sgc & 0xFFF) << 20)
    if section == 3:
        return KeyChange3(high=sgc & 0xFFF, key_bits=(key >> 64) & _WORD)
    if section == 4 and wide:
        return KeyChange4(high=sgc >> 12, key_bits=(key >> 32) & _WORD)
    raise _SchemaError(f"a {'128' if wide else '64'}-bit key change has no section {section}")


def _build_kct(obj: Line, check: _Check, tid: int | None) -> Token:
    """The section from its fields, checked against the whole set built by KeyChange."""
    section, size = _req(obj, "kct_section", int), _req(obj, "kct_set_size", int)
    token = _kct_section(obj, section)
    for carried in (1, 2):  # every line repeats the whole set's fields: they must fit
        _kct_section(obj, carried)
    res_name = f"res (for kct_set_size {size}: 1 only in an EA07 3-token set)"
    check.equal(res_name, int(size == 3), _req(obj, "res", int))
    if (new_sgc := _opt(obj, "new_sgc", str)) is not None:
        check_sgc(new_sgc)
    _opt(obj, "new_base_date", int)  # no token carries it; it must still be an int or null
    change = KeyChange(
        new_key=bytes.fromhex(_hex(obj, "new_decoder_key", 16, 32)),
        krn=_req(obj, "new_krn", int),
        kt=KeyType(_req(obj, "new_kt", int)),
        ti=_req(obj, "new_ti", int),
        ken=(_req(obj, "kenho", int) << 4) | _req(obj, "kenlo", int),
        ro=bool(_req(obj, "ro", int)),
        sgc=new_sgc if size > 2 else None,
    )
    check.equal("kct_set_size (KeyChange.set_size)", change.set_size, size)
    sections = change.sections()
    if 1 <= section <= len(sections):
        plain = plain_block(sections[section - 1])
        expected = _hex(_req(obj, "expected", dict), "plain64", 16)
        check.hex(f"plain64 (KeyChange section {section})", plain, expected)
    else:
        check.fail(f"KeyChange builds {len(sections)} sections, none is section {section}")
    return token


_BUILDERS: dict[str, Callable[[Line, _Check, int | None], Token]] = {
    "credit": _build_credit,
    "currency": _build_currency,
    **dict.fromkeys(
        ("set_max_power_limit", "set_mppul", "clear_credit", "set_tariff_rate"),
        _build_management,
    ),
    **dict.fromkeys(("set_water_meter_factor", "clear_tamper", "extended_set"), _build_management),
    "kct": _build_kct,
    "test": _build_test,
}


# --- token vectors: decode ------------------------------------------------------------------


def _decode(obj: Line, check: _Check) -> None:
    expected = _req(obj, "expected", dict)
    text = _req(expected, "token", str)
    token_class, block = split_class(parse_token(text))
    check.equal("token_class", token_class, _req(obj, "token_class", int))
    key = _line_key(obj)
    if token_class != TokenClass.METER_TEST:
        check.hex("enc64", block, _hex(expected, "enc64", 16))
        if key is None:
            raise _SchemaError("decoder_key is null but the token is encrypted")
        block = key.decrypt(block)
    check.hex("plain64", block, _hex(expected, "plain64", 16))
    token = decode(text, key)  # the codec's own path, CRC check included
    check.equal("subclass", token.subclass, _req(obj, "subclass", int))
    if (kind := _req(obj, "kind", str)) != KIND_NAMES.get(type(token)):
        check.fail(f"decoded a {type(token).__name__}, not a {kind} token")
        return
    for name, got in _fields_of(token).items():
        if name not in obj:
            raise _SchemaError(f"missing key {name!r}")
        check.equal(name, got, obj[name])
    if isinstance(token, KeyChange1 | KeyChange2 | KeyChange3 | KeyChange4):
        _check_kct_key_bits(token, obj, check)


KIND_NAMES: dict[type, str] = {  # token type -> the schema's "kind"
    TransferCredit: "credit",
    CurrencyTransfer: "currency",
    SetMaximumPowerLimit: "set_max_power_limit",
    SetMaximumPhasePowerUnbalanceLimit: "set_mppul",
    ClearCredit: "clear_credit",
    SetTariffRate: "set_tariff_rate",
    SetWaterMeterFactor: "set_water_meter_factor",
    ClearTamperCondition: "clear_tamper",
    ExtendedSet: "extended_set",
    InitiateMeterTest: "test",
    **dict.fromkeys((KeyChange1, KeyChange2, KeyChange3, KeyChange4), "kct"),
}


def _fields_of(token: Token) -> dict[str, object]:  # noqa: PLR0911 - one case per kind
    """The decoded fields under the schema's names, to compare with the line's values."""
    match token:
        case TransferCredit():
            tenths, unit = token.value_tenths, _UNITS[token.subclass]
            tid_fields = {"rnd": token.rnd, "tid": token.tid, "amount_field": token.amount_field}
            value = {"value_tenths": tenths, "value": f"{tenths // 10}.{tenths % 10}"}
            return {**tid_fields, **value, "unit": unit}
        case CurrencyTransfer():
            names = ("sign_exponent", "amount_field", "sign", "exponent", "mantissa", "units")
            return {"tid": token.tid, **{name: getattr(token.amount, name) for name in names}}
        case InitiateMeterTest():
            code = token.manufacturer_code
            return {"control": token.control, "manufacturer_code": code, "payload": token.data}
        case KeyChange1():
            fields = {"kenho": token.kenho, "new_krn": token.krn, "ro": token.ro}
            return {"kct_section": 1, **fields, "res": token.res, "new_kt": token.kt}
        case KeyChange2():
            return {"kct_section": 2, "kenlo": token.kenlo, "new_ti": token.ti}
        case KeyChange3() | KeyChange4():
            return {"kct_section": 3 if isinstance(token, KeyChange3) else 4}
    common: dict[str, object] = {"rnd": token.rnd, "tid": token.tid, "amount_field": token.field16}
    match token:
        case SetMaximumPowerLimit() | SetMaximumPhasePowerUnbalanceLimit():
            return {**common, "watts": token.watts}
        case ClearCredit():
            return {**common, "register": token.register}
        case ExtendedSet():
            return {**common, "ext_index": token.index, "ext_value": token.value}
    return common


def _check_kct_key_bits(token: KeyChangeSection, obj: Line, check: _Check) -> None:
    """Compare a section's new-key bits and SGC bits with ``new_decoder_key``/``new_sgc``."""
    key, wide = _new_key(obj)
    if isinstance(token, KeyChange3) and not wide:  # EA07 3-token set: SGC as 24 bits, zeros
        sgc = (token.high << 12) | (token.key_bits >> 20)
        check.equal("new_sgc", f"{sgc:06d}", _opt(obj, "new_sgc", str))
        check.equal("section 3 padding bits", token.key_bits & 0xFFFFF, 0)
        return
    shift = {KeyChange1: 96 if wide else 32, KeyChange2: 0, KeyChange3: 64, KeyChange4: 32}
    low = shift[type(token)]
    name = f"new_decoder_key bits {low + 31}..{low}"
    check.equal(name, f"{token.key_bits:08X}", f"{(key >> low) & _WORD:08X}")
    if isinstance(token, KeyChange3 | KeyChange4):
        sgc, is_low = _new_sgc(obj), isinstance(token, KeyChange3)
        half = sgc & 0xFFF if is_low else sgc >> 12
        check.equal(f"new_sgc {'low' if is_low else 'high'} 12 bits", token.high, half)
