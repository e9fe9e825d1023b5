"""Token vectors: run both directions of the schema's "Running a vector".

*Encode* derives the key, computes the TID from ``issued_at``, builds the token (see
:mod:`sts.vectors.token_builders`) and compares plain64, enc64 and the token; *decode* takes
the token and ``decoder_key`` and compares every field the line gives. :data:`KIND_NAMES`
maps each token type to the schema's ``kind``.
"""

from __future__ import annotations

from datetime import datetime

from sts.codec import DecoderKey, decode, encode, parse_token, plain_block, split_class
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
)
from sts.vectors._schema import (
    Line,
    _Check,
    _guarded,
    _hex,
    _opt,
    _opt_hex,
    _req,
    _SchemaError,
    _tables,
)
from sts.vectors.known_answers import _derive
from sts.vectors.token_builders import _BUILDERS, _WORD, _new_key, _new_sgc

__all__ = ["KIND_NAMES"]

_UNITS = {0: "kWh", 1: "m3", 2: "m3", 3: None}  # credit subclass -> unit (time: unconfirmed)


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
