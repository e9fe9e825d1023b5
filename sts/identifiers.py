"""Meter identifiers: PAN (IIN + DRN + check digit), SGC, TI, KRN, KT, KEN.

A meter's primary account number (PAN) has 18 digits: the issuer identification
number (IIN, ``600727`` or the short form ``0000``), the decoder reference
number (DRN: 11 digits after ``600727``, 13 after ``0000``) and a Luhn check
digit over the first 17. The DRN ends in its own Luhn digit. The number printed
on a meter and typed by customers is usually the DRN alone (11 or 13 digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from sts.errors import IdentifierError

__all__ = [
    "IIN_LONG",
    "IIN_SHORT",
    "KeyType",
    "Pan",
    "check_ken",
    "check_krn",
    "check_sgc",
    "check_ti",
    "luhn_digit",
]

IIN_LONG = "600727"
IIN_SHORT = "0000"


class KeyType(IntEnum):
    """Decoder key types (KT)."""

    DITK = 0  #: initialisation key
    DDTK = 1  #: default key
    DUTK = 2  #: unique key
    DCTK = 3  #: common key


def luhn_digit(digits: str) -> int:
    """Return the Luhn check digit to append to ``digits``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return -total % 10


@dataclass(frozen=True, slots=True)
class Pan:
    """An 18-digit STS primary account number (meter number with IIN)."""

    iin: str
    drn: str

    def __post_init__(self) -> None:
        expected = {IIN_LONG: 11, IIN_SHORT: 13}.get(self.iin)
        if expected is None:
            raise IdentifierError(f"IIN must be {IIN_LONG} or {IIN_SHORT}, got {self.iin!r}")
        if len(self.drn) != expected or not self.drn.isascii() or not self.drn.isdigit():
            raise IdentifierError(
                f"meter number {self.drn!r} must have {expected} digits for IIN {self.iin}"
            )
        if luhn_digit(self.drn[:-1]) != int(self.drn[-1]):
            raise IdentifierError(f"meter number {self.drn} has a wrong check digit")

    @property
    def check_digit(self) -> int:
        """The PAN's own Luhn digit over IIN and DRN."""
        return luhn_digit(self.iin + self.drn)

    @property
    def digits(self) -> str:
        """The 18-digit PAN."""
        return f"{self.iin}{self.drn}{self.check_digit}"

    def __str__(self) -> str:
        return self.digits

    @classmethod
    def parse(cls, text: str) -> Pan:
        """Parse a meter number: an 18-digit PAN, an 11-digit or a 13-digit DRN.

        Spaces and dashes between digit groups are ignored.
        """
        digits = text.replace(" ", "").replace("-", "")
        if not digits.isascii() or not digits.isdigit():
            raise IdentifierError(f"meter number {text!r} must contain only digits")
        if len(digits) == 11:
            return cls(IIN_LONG, digits)
        if len(digits) == 13:
            return cls(IIN_SHORT, digits)
        if len(digits) != 18:
            raise IdentifierError(
                f"meter number {text!r} must have 11 or 13 digits (or 18 with the IIN)"
            )
        iin = IIN_LONG if digits.startswith(IIN_LONG) else IIN_SHORT
        if not digits.startswith(iin):
            raise IdentifierError(f"meter number {text!r} must start with {IIN_LONG} or 0000")
        pan = cls(iin, digits[len(iin) : 17])
        if pan.check_digit != int(digits[17]):
            raise IdentifierError(f"meter number {text!r} has a wrong check digit")
        return pan


def check_sgc(sgc: str) -> str:
    """Validate a 6-digit supply group code and return it."""
    if len(sgc) != 6 or not sgc.isascii() or not sgc.isdigit():
        raise IdentifierError(f"supply group code must be 6 digits, got {sgc!r}")
    return sgc


def _check_range(name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise IdentifierError(f"{name} must be {low}-{high}, got {value!r}")
    return value


def check_ti(ti: int) -> int:
    """Validate a tariff index (0-99)."""
    return _check_range("tariff index", ti, 0, 99)


def check_krn(krn: int) -> int:
    """Validate a key revision number (1-9)."""
    return _check_range("key revision number", krn, 1, 9)


def check_ken(ken: int) -> int:
    """Validate a key expiry number (0-255; 255 never expires)."""
    return _check_range("key expiry number", ken, 0, 255)
