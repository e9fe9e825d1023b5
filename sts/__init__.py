"""STS (IEC 62055-41) prepayment tokens: a pure, I/O-free codec.

Build a token value, encode it under a meter's decoder key, decode it back::

    >>> from sts import DecoderKey, TransferCredit, Utility, decode, encode
    >>> key = DecoderKey.from_hex("E653341F9D5BF36F")          # EA07, 64-bit
    >>> token = TransferCredit.of(Utility.ELECTRICITY, 1, tid=5871715, rnd=5)
    >>> encode(token, key)
    '23716100501183194197'
    >>> decode("2371 6100 5011 8319 4197", key).value_tenths
    1

Modules: :mod:`sts.tokens` (token kinds), :mod:`sts.codec` (20 digits <-> tokens),
:mod:`sts.keychange` (key change sets), :mod:`sts.dkga` (decoder key derivation),
:mod:`sts.amount`, :mod:`sts.tid`, :mod:`sts.crc`, :mod:`sts.identifiers`,
:mod:`sts.sta` (EA07), :mod:`sts.misty1` (EA11) and :mod:`sts.meter` (a reference
meter that accepts or rejects tokens as a real one does).

Errors: every bad input raises a subclass of :class:`StsError`; the tree is in
:mod:`sts.errors`.
"""

from sts.amount import CurrencyAmount, decode_amount, encode_amount, encode_currency, tenths
from sts.codec import DecoderKey, decode, encode, format_token, parse_token, plain_block
from sts.dkga import derive, dkga02, dkga04
from sts.errors import (
    AmountRangeError,
    CrcError,
    FieldError,
    IdentifierError,
    KeyFormatError,
    StsError,
    TidError,
    TokenFormatError,
    UnsupportedTokenError,
)
from sts.identifiers import KeyType, Pan
from sts.keychange import KeyChange
from sts.meter import EntryResult, Meter, MeterResult
from sts.tid import next_tid, tid_at
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
    "AmountRangeError",
    "ClearCredit",
    "ClearTamperCondition",
    "CrcError",
    "CurrencyAmount",
    "CurrencyTransfer",
    "DecoderKey",
    "EntryResult",
    "ExtendedSet",
    "FieldError",
    "IdentifierError",
    "InitiateMeterTest",
    "KeyChange",
    "KeyChange1",
    "KeyChange2",
    "KeyChange3",
    "KeyChange4",
    "KeyFormatError",
    "KeyType",
    "Meter",
    "MeterResult",
    "Pan",
    "SetMaximumPhasePowerUnbalanceLimit",
    "SetMaximumPowerLimit",
    "SetTariffRate",
    "SetWaterMeterFactor",
    "StsError",
    "TidError",
    "Token",
    "TokenClass",
    "TokenFormatError",
    "TransferCredit",
    "UnsupportedTokenError",
    "Utility",
    "decode",
    "decode_amount",
    "derive",
    "dkga02",
    "dkga04",
    "encode",
    "encode_amount",
    "encode_currency",
    "format_token",
    "next_tid",
    "parse_token",
    "plain_block",
    "tenths",
    "tid_at",
]
