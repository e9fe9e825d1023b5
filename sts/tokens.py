"""The STS token kinds as plain values, and their 44-bit payloads.

Every token is ``class(2) | subclass(4) | payload(44) | CRC(16)``. This module
knows the payload layouts; :mod:`sts.codec` adds the CRC, the cipher and the
20-digit form. Tokens are frozen dataclasses built with keyword arguments;
values that do not fit their fields raise :class:`~sts.errors.FieldError`.

=====  ========  ==========================================================
class  subclass  token
=====  ========  ==========================================================
0      0-3       :class:`TransferCredit` (electricity, water, gas, time)
0      4-7       :class:`CurrencyTransfer` (Edition 3, signed, CRC_C)
1      0-2       :class:`InitiateMeterTest` (not encrypted)
2      0         :class:`SetMaximumPowerLimit`
2      1         :class:`ClearCredit`
2      2         :class:`SetTariffRate`
2      3, 4      :class:`KeyChange1`, :class:`KeyChange2`
2      5         :class:`ClearTamperCondition`
2      6         :class:`SetMaximumPhasePowerUnbalanceLimit`
2      7         :class:`SetWaterMeterFactor`
2      8, 9      :class:`KeyChange3`, :class:`KeyChange4` (Edition 3)
2      10        :class:`ExtendedSet` (STS 202-5)
=====  ========  ==========================================================

Tokens other than key changes and class 1 carry ``rnd(4) | TID(24) | field(16)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from sts.amount import CurrencyAmount, decode_amount, encode_amount, encode_currency
from sts.errors import FieldError, UnsupportedTokenError

__all__ = [
    "ClearCredit",
    "ClearTamperCondition",
    "CurrencyTransfer",
    "ExtendedSet",
    "InitiateMeterTest",
    "KeyChange1",
    "KeyChange2",
    "KeyChange3",
    "KeyChange4",
    "KeyChangeSection",
    "SetMaximumPhasePowerUnbalanceLimit",
    "SetMaximumPowerLimit",
    "SetTariffRate",
    "SetWaterMeterFactor",
    "Token",
    "TokenClass",
    "TransferCredit",
    "Utility",
    "from_payload",
]

ALL_REGISTERS = 0xFFFF


class TokenClass(IntEnum):
    """The 2-bit token class."""

    TRANSFER = 0
    METER_TEST = 1
    MANAGEMENT = 2


class Utility(IntEnum):
    """What a transfer token credits (its subclass, or subclass - 4 for currency)."""

    ELECTRICITY = 0
    WATER = 1
    GAS = 2
    TIME = 3


def _bits(name: str, value: int, width: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >> width:
        raise FieldError(f"{name} must fit in {width} bits, got {value!r}")


def _tid_payload(rnd: int, tid: int, field: int) -> int:
    return (rnd << 40) | (tid << 16) | field


@dataclass(frozen=True, slots=True, kw_only=True)
class _TidToken:
    """Fields shared by every token that carries a TID: ``rnd | tid | field``."""

    tid: int
    rnd: int = 0

    def __post_init__(self) -> None:
        _bits("TID", self.tid, 24)
        _bits("random nibble", self.rnd, 4)
        _bits(f"{type(self).__name__} field", self.field16, 16)

    @property
    def field16(self) -> int:
        """The token's 16-bit field (amount, register, rate, ...)."""
        raise NotImplementedError

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        return _tid_payload(self.rnd, self.tid, self.field16)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCredit(_TidToken):
    """Class 0, subclasses 0-3: credit in tenths of a unit (0.1 kWh, 0.1 m3, ...)."""

    token_class: ClassVar[TokenClass] = TokenClass.TRANSFER
    utility: Utility
    amount_field: int

    @property
    def subclass(self) -> int:
        """0 electricity, 1 water, 2 gas, 3 time."""
        return int(self.utility)

    @property
    def field16(self) -> int:
        """The encoded transfer amount."""
        return self.amount_field

    @property
    def value_tenths(self) -> int:
        """What the meter credits, in tenths of a unit."""
        return decode_amount(self.amount_field)

    @classmethod
    def of(cls, utility: Utility, tenths: int, *, tid: int, rnd: int = 0) -> TransferCredit:
        """Build a credit token for ``tenths`` (rounded up to a value a token carries)."""
        return cls(utility=Utility(utility), tid=tid, rnd=rnd, amount_field=encode_amount(tenths))


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrencyTransfer:
    """Class 0, subclasses 4-7 (Edition 3): a signed currency amount; CRC_C."""

    token_class: ClassVar[TokenClass] = TokenClass.TRANSFER
    utility: Utility
    tid: int
    amount: CurrencyAmount

    def __post_init__(self) -> None:
        _bits("TID", self.tid, 24)

    @property
    def subclass(self) -> int:
        """4 electricity, 5 water, 6 gas, 7 time."""
        return 4 + int(self.utility)

    @property
    def units(self) -> int:
        """The signed amount in 10**-5 currency units."""
        return self.amount.units

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        return _tid_payload(self.amount.sign_exponent, self.tid, self.amount.amount_field)

    @classmethod
    def of(cls, utility: Utility, units: int, *, tid: int) -> CurrencyTransfer:
        """Build a currency token for ``units`` of 10**-5 (rounded as the standard says)."""
        return cls(utility=Utility(utility), tid=tid, amount=encode_currency(units))


@dataclass(frozen=True, slots=True, kw_only=True)
class _PowerLimit(_TidToken):
    """A power limit in watts, amount-encoded like credit (1 W steps at exponent 0)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    amount_field: int

    @property
    def field16(self) -> int:
        """The encoded limit."""
        return self.amount_field

    @property
    def watts(self) -> int:
        """The limit the meter applies."""
        return decode_amount(self.amount_field)

    @classmethod
    def of(cls, watts: int, *, tid: int, rnd: int = 0) -> Self:
        """Build the token for ``watts`` (rounded up to a value a token carries)."""
        return cls(tid=tid, rnd=rnd, amount_field=encode_amount(watts))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMaximumPowerLimit(_PowerLimit):
    """Class 2/0: the most power the meter lets through, in watts."""

    subclass: ClassVar[int] = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMaximumPhasePowerUnbalanceLimit(_PowerLimit):
    """Class 2/6: the largest power difference between phases, in watts."""

    subclass: ClassVar[int] = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearCredit(_TidToken):
    """Class 2/1: clear one credit register (0-7), or all with 0xFFFF."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 1
    register: int = ALL_REGISTERS

    @property
    def field16(self) -> int:
        """The register number."""
        return self.register


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTariffRate(_TidToken):
    """Class 2/2: a tariff rate (units not published; carried raw)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 2
    rate: int

    @property
    def field16(self) -> int:
        """The raw rate."""
        return self.rate


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearTamperCondition(_TidToken):
    """Class 2/5: clear the meter's tamper condition."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 5
    pad: int = 0

    @property
    def field16(self) -> int:
        """The pad (zero when issued)."""
        return self.pad


@dataclass(frozen=True, slots=True, kw_only=True)
class SetWaterMeterFactor(_TidToken):
    """Class 2/7: the water meter factor (units not published; carried raw)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 7
    factor: int

    @property
    def field16(self) -> int:
        """The raw factor."""
        return self.factor


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedSet(_TidToken):
    """Class 2/10 (STS 202-5): a 6-bit index and a 10-bit value (split is empirical)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 10
    index: int
    value: int

    def __post_init__(self) -> None:
        _bits("extended-set index", self.index, 6)
        _bits("extended-set value", self.value, 10)
        _TidToken.__post_init__(self)

    @property
    def field16(self) -> int:
        """Index in the top 6 bits, value in the low 10."""
        return (self.index << 10) | self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange1:
    """Class 2/3: key change, 1st section (new KEN high nibble, KRN, RO, RES, KT, key bits)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 3
    kenho: int
    krn: int
    ro: int
    res: int
    kt: int
    key_bits: int

    def __post_init__(self) -> None:
        for name, value, width in (
            ("KENHO", self.kenho, 4),
            ("KRN", self.krn, 4),
            ("RO", self.ro, 1),
            ("RES", self.res, 1),
            ("KT", self.kt, 2),
            ("key bits", self.key_bits, 32),
        ):
            _bits(name, value, width)

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        flags = (self.ro << 3) | (self.res << 2) | self.kt
        return (self.kenho << 40) | (self.krn << 36) | (flags << 32) | self.key_bits


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange2:
    """Class 2/4: key change, 2nd section (new KEN low nibble, TI, key bits 31..0)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 4
    kenlo: int
    ti: int
    key_bits: int

    def __post_init__(self) -> None:
        _bits("KENLO", self.kenlo, 4)
        _bits("TI", self.ti, 8)
        _bits("key bits", self.key_bits, 32)

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        return (self.kenlo << 40) | (self.ti << 32) | self.key_bits


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange3:
    """Class 2/8: key change, 3rd section.

    In an EA07 3-token set ``high`` is the new SGC's top 12 bits and the low 32 bits hold
    its low 12 bits then 20 zeros (the SGC as 24 bits, then zero). In an EA11 4-token set
    ``high`` is the SGC's low 12 bits and ``key_bits`` are new-key bits 95..64.
    """

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 8
    high: int
    key_bits: int

    def __post_init__(self) -> None:
        _bits("section 3 high bits", self.high, 12)
        _bits("section 3 key bits", self.key_bits, 32)

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        return (self.high << 32) | self.key_bits


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange4:
    """Class 2/9 (EA11): key change, 4th section (SGC high 12 bits, key bits 63..32)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 9
    high: int
    key_bits: int

    def __post_init__(self) -> None:
        _bits("section 4 high bits", self.high, 12)
        _bits("section 4 key bits", self.key_bits, 32)

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        return (self.high << 32) | self.key_bits


@dataclass(frozen=True, slots=True, kw_only=True)
class InitiateMeterTest:
    """Class 1 (not encrypted): a test or display request.

    Subclass 0 carries 36 control bits and an 8-bit manufacturer code, subclass 1
    28 control bits and a 16-bit code, subclass 2 a 44-bit payload whose meaning
    is not published.
    """

    token_class: ClassVar[TokenClass] = TokenClass.METER_TEST
    subclass: int
    data: int

    def __post_init__(self) -> None:
        if self.subclass not in (0, 1, 2):
            raise UnsupportedTokenError(f"class 1 subclass {self.subclass} is reserved")
        _bits("class 1 payload", self.data, 44)

    def payload(self) -> int:
        """The 44 bits between the subclass and the CRC."""
        return self.data

    @property
    def _code_bits(self) -> int | None:
        return {0: 8, 1: 16}.get(self.subclass)

    @property
    def control(self) -> int | None:
        """The control bits (None for subclass 2)."""
        bits = self._code_bits
        return None if bits is None else self.data >> bits

    @property
    def manufacturer_code(self) -> int | None:
        """The manufacturer code (None for subclass 2)."""
        bits = self._code_bits
        return None if bits is None else self.data & ((1 << bits) - 1)

    @classmethod
    def build(cls, control: int, manufacturer_code: int, *, subclass: int = 0) -> InitiateMeterTest:
        """Build a subclass 0 or 1 test token from its control bits and manufacturer code."""
        if subclass not in (0, 1):
            raise FieldError("control/manufacturer-code tokens are class 1 subclass 0 or 1")
        code_bits = 8 if subclass == 0 else 16
        _bits("control", control, 44 - code_bits)
        _bits("manufacturer code", manufacturer_code, code_bits)
        return cls(subclass=subclass, data=(control << code_bits) | manufacturer_code)


KeyChangeSection = KeyChange1 | KeyChange2 | KeyChange3 | KeyChange4

Token = (
    TransferCredit
    | CurrencyTransfer
    | InitiateMeterTest
    | SetMaximumPowerLimit
    | SetMaximumPhasePowerUnbalanceLimit
    | ClearCredit
    | SetTariffRate
    | ClearTamperCondition
    | SetWaterMeterFactor
    | ExtendedSet
    | KeyChangeSection
)
"""Any token this codec builds or decodes."""


def _tid_fields(payload: int) -> tuple[int, int, int]:
    return payload >> 40, (payload >> 16) & 0xFFFFFF, payload & 0xFFFF


def _management(subclass: int, payload: int) -> Token:  # noqa: PLR0911 - one case per subclass
    rnd, tid, field = _tid_fields(payload)
    high, low = payload >> 32, payload & 0xFFFFFFFF
    match subclass:
        case 0:
            return SetMaximumPowerLimit(tid=tid, rnd=rnd, amount_field=field)
        case 1:
            return ClearCredit(tid=tid, rnd=rnd, register=field)
        case 2:
            return SetTariffRate(tid=tid, rnd=rnd, rate=field)
        case 3:
            return KeyChange1(
                kenho=high >> 8,
                krn=(high >> 4) & 0xF,
                ro=(high >> 3) & 1,
                res=(high >> 2) & 1,
                kt=high & 0b11,
                key_bits=low,
            )
        case 4:
            return KeyChange2(kenlo=high >> 8, ti=high & 0xFF, key_bits=low)
        case 5:
            return ClearTamperCondition(tid=tid, rnd=rnd, pad=field)
        case 6:
            return SetMaximumPhasePowerUnbalanceLimit(tid=tid, rnd=rnd, amount_field=field)
        case 7:
            return SetWaterMeterFactor(tid=tid, rnd=rnd, factor=field)
        case 8:
            return KeyChange3(high=high, key_bits=low)
        case 9:
            return KeyChange4(high=high, key_bits=low)
        case 10:
            return ExtendedSet(tid=tid, rnd=rnd, index=field >> 10, value=field & 0x3FF)
    raise UnsupportedTokenError(f"class 2 subclass {subclass} is reserved")


def from_payload(token_class: int, subclass: int, payload: int) -> Token:
    """Rebuild a token from its class, subclass and 44-bit payload."""
    if token_class == TokenClass.TRANSFER:
        rnd, tid, field = _tid_fields(payload)
        if subclass < 4:
            return TransferCredit(utility=Utility(subclass), tid=tid, rnd=rnd, amount_field=field)
        if subclass < 8:
            amount = CurrencyAmount.from_fields(field, rnd)
            return CurrencyTransfer(utility=Utility(subclass - 4), tid=tid, amount=amount)
        raise UnsupportedTokenError(f"class 0 subclass {subclass} is reserved")
    if token_class == TokenClass.METER_TEST:
        return InitiateMeterTest(subclass=subclass, data=payload)
    if token_class == TokenClass.MANAGEMENT:
        return _management(subclass, payload)
    raise UnsupportedTokenError("class 3 tokens are reserved for proprietary use")
