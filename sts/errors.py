"""The one exception tree of the :mod:`sts` package.

Every error the codec raises for bad input is a :class:`StsError` (itself a
``ValueError``), so callers at a boundary need a single ``except StsError``.
Messages are written for a support agent reading them to a customer: they
say what was wrong and, where it helps, what was expected.

::

    StsError
    ├── TokenFormatError      20-digit token text is malformed or out of range
    ├── CrcError              token decrypted but its CRC does not match
    │                         (mistyped token or the wrong decoder key)
    ├── AmountRangeError      an amount cannot be encoded in its field
    ├── TidError              time before the base date or past TID rollover
    ├── IdentifierError       meter number / SGC / TI / KRN / KT / KEN invalid
    ├── KeyFormatError        a key has the wrong length or is not hex
    ├── FieldError            a token field is outside its bit width or set
    └── UnsupportedTokenError a class or subclass the codec does not handle
"""

from __future__ import annotations

__all__ = [
    "AmountRangeError",
    "CrcError",
    "FieldError",
    "IdentifierError",
    "KeyFormatError",
    "StsError",
    "TidError",
    "TokenFormatError",
    "UnsupportedTokenError",
]


class StsError(ValueError):
    """Base class of every error raised by the STS codec for bad input."""


class TokenFormatError(StsError):
    """The token text is not 20 digits, or its value is 2^66 or more."""


class CrcError(StsError):
    """The decrypted block's CRC does not match: mistyped token or wrong key."""


class AmountRangeError(StsError):
    """An amount is negative, too large, or not a whole number of steps."""


class TidError(StsError):
    """A token identifier cannot be formed for the given time and base date."""


class IdentifierError(StsError):
    """A meter identifier (PAN, DRN, SGC, TI, KRN, KT, KEN) is invalid."""


class KeyFormatError(StsError):
    """A vending or decoder key has the wrong length or is not hexadecimal."""


class FieldError(StsError):
    """A token field does not fit its bit width or allowed set of values."""


class UnsupportedTokenError(StsError):
    """The token class or subclass is reserved or not handled by this codec."""
