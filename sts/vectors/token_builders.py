"""Token vectors, encode direction: build the token a line describes from its fields.

One builder per kind (:data:`_BUILDERS`). Where a line gives both a requested value and
its encoding (an amount, a currency, a test payload, a key change section), the builder
encodes the request with the codec and records a mismatch when the encodings differ.
"""

from __future__ import annotations

from collections.abc import Callable

from sts.amount import CurrencyAmount, encode_amount, encode_currency
from sts.codec import plain_block
from sts.identifiers import KeyType, check_sgc
from sts.keychange import KeyChange
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
    TransferCredit,
    Utility,
)
from sts.vectors._schema import Line, _Check, _hex, _opt, _req, _SchemaError

_WORD = 0xFFFFFFFF


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
