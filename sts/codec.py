"""From token values to 20-digit tokens and back.

Encoding a class 0 or 2 token::

    plain64 = subclass(4) | payload(44) | CRC(16)     CRC over class|subclass|payload
    enc64   = EA07 (STA) or EA11 (MISTY1) of plain64 under the meter's decoder key
    token66 = enc64 with its bits 28 and 27 moved to 65 and 64, and the class
              written into bits 28 (class bit 1) and 27 (class bit 0)
    text    = token66 as exactly 20 decimal digits

Class 1 (meter test) tokens skip the cipher. Decoding runs the same steps
backwards and checks the CRC; a wrong key and a mistyped token look the same to
the CRC, which is all a meter can tell too.
"""

from __future__ import annotations

import hashlib

from sts.crc import token_crc
from sts.errors import (
    CrcError,
    FieldError,
    KeyFormatError,
    TokenFormatError,
    UnsupportedTokenError,
)
from sts.misty1 import Misty1
from sts.sta import PRODUCTION, Sta, StaTables
from sts.tokens import Token, TokenClass, from_payload

__all__ = [
    "DecoderKey",
    "decode",
    "decode_block",
    "encode",
    "format_token",
    "join_class",
    "parse_token",
    "plain_block",
    "split_class",
]

TOKEN_LIMIT = 1 << 66
_BIT27, _BIT28 = 1 << 27, 1 << 28
_CLASS_BITS = _BIT27 | _BIT28
_MASK64 = (1 << 64) - 1
_RESERVED_CLASS = 3


class DecoderKey:
    """A meter's decoder key with its cipher: EA07 for 8 bytes, EA11 for 16.

    The key never appears in ``repr`` or ``str``; :attr:`fingerprint` identifies it in
    logs and support tickets without revealing it.
    """

    __slots__ = ("_cipher", "_key", "ea", "tables")

    def __init__(self, key: bytes, *, ea: int | None = None, tables: StaTables = PRODUCTION):
        if ea is None:
            ea = {8: 7, 16: 11}.get(len(key))
        if ea == 7 and len(key) == 8:
            self._cipher: Sta | Misty1 = Sta(key, tables)
        elif ea == 11 and len(key) == 16:
            self._cipher = Misty1(bytes(key))
        else:
            raise KeyFormatError(
                f"a decoder key has 8 bytes (EA07) or 16 bytes (EA11); got {len(key)} bytes"
                + (f" for EA{ea:02d}" if ea is not None else "")
            )
        self._key = bytes(key)
        self.ea = ea
        self.tables = tables

    @classmethod
    def from_hex(
        cls, text: str, *, ea: int | None = None, tables: StaTables = PRODUCTION
    ) -> DecoderKey:
        """Build a key from 16 or 32 hex digits (spaces allowed)."""
        try:
            key = bytes.fromhex(text)
        except ValueError as exc:
            raise KeyFormatError("a decoder key must be written in hexadecimal") from exc
        return cls(key, ea=ea, tables=tables)

    @property
    def key(self) -> bytes:
        """The raw key bytes (secret: never log them)."""
        return self._key

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible identifier of the key (first 8 hex digits of SHA-256)."""
        return hashlib.sha256(self._key).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"DecoderKey(EA{self.ea:02d}, fingerprint={self.fingerprint})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecoderKey):
            return NotImplemented
        return self.ea == other.ea and self._key == other._key

    def __hash__(self) -> int:
        return hash((self.ea, self._key))

    def encrypt(self, block: int) -> int:
        """Encrypt one 64-bit block with this key's algorithm."""
        return self._cipher.encrypt(block)

    def decrypt(self, block: int) -> int:
        """Decrypt one 64-bit block with this key's algorithm."""
        return self._cipher.decrypt(block)


def _is_currency(token_class: int, subclass: int) -> bool:
    return token_class == TokenClass.TRANSFER and 4 <= subclass <= 7


def plain_block(token: Token) -> int:
    """Return the 64-bit block of ``token`` before encryption, CRC included."""
    token_class, subclass = int(token.token_class), token.subclass
    data = (subclass << 44) | token.payload()
    crc = token_crc((token_class << 48) | data, currency=_is_currency(token_class, subclass))
    return (data << 16) | crc


def join_class(token_class: int, block: int) -> int:
    """Insert the 2 class bits into a 64-bit block, giving the 66-bit token number."""
    moved = ((block & _CLASS_BITS) >> 27) << 64
    return moved | (block & ~_CLASS_BITS & _MASK64) | (token_class << 27)


def split_class(number: int) -> tuple[int, int]:
    """Return (token class, 64-bit block) from a 66-bit token number."""
    token_class = (number >> 27) & 0b11
    block = (number & _MASK64 & ~_CLASS_BITS) | ((number >> 64) << 27)
    return token_class, block


def format_token(number: int) -> str:
    """Write a 66-bit token number as exactly 20 digits."""
    if not 0 <= number < TOKEN_LIMIT:
        raise TokenFormatError(f"a token number must be below 2^66, got {number}")
    return f"{number:020d}"


def parse_token(text: str) -> int:
    """Read a 20-digit token (spaces and dashes between groups allowed) as its number."""
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) != 20 or not digits.isascii() or not digits.isdigit():
        raise TokenFormatError(f"a token has exactly 20 digits; got {len(digits)} characters")
    number = int(digits)
    if number >= TOKEN_LIMIT:
        raise TokenFormatError("that number is too large to be an STS token (check the digits)")
    return number


def encode(token: Token, key: DecoderKey | None) -> str:
    """Return the 20-digit token for ``token`` under ``key`` (None only for class 1)."""
    block = plain_block(token)
    if token.token_class != TokenClass.METER_TEST:
        if key is None:
            raise KeyFormatError("class 0 and 2 tokens need the meter's decoder key")
        block = key.encrypt(block)
    return format_token(join_class(int(token.token_class), block))


def decode_block(token_class: int, plain: int) -> Token:
    """Check the CRC of a decrypted block and return the token it holds."""
    if not 0 <= plain <= _MASK64:
        raise FieldError("a token block has 64 bits")
    data = plain >> 16
    expected = token_crc((token_class << 48) | data, currency=_is_currency(token_class, data >> 44))
    if expected != plain & 0xFFFF:
        raise CrcError("token check failed: the token was mistyped or is for another meter")
    return from_payload(token_class, data >> 44, data & ((1 << 44) - 1))


def decode(text: str, key: DecoderKey | None) -> Token:
    """Decode a 20-digit token with the meter's key (None is enough for class 1)."""
    token_class, block = split_class(parse_token(text))
    if token_class == _RESERVED_CLASS:
        raise UnsupportedTokenError("class 3 tokens are reserved for proprietary use")
    if token_class in (TokenClass.TRANSFER, TokenClass.MANAGEMENT):
        if key is None:
            raise KeyFormatError("class 0 and 2 tokens need the meter's decoder key")
        block = key.decrypt(block)
    return decode_block(token_class, block)
