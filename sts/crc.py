"""The STS token CRC (IEC 62055-41): CRC-16/MODBUS with its two bytes swapped.

The algorithm is CRC-16 with the reflected polynomial 0xA001 (0x8005), initial
value 0xFFFF and no final XOR — the CRC-16/MODBUS catalogue entry, whose check
value over ``b"123456789"`` is 0x4B37. STS stores that register with its bytes
swapped, so the token field for the check input is 0x374B.

A token's CRC covers its 50-bit value ``class(2) | subclass(4) | payload(44)``
written as 7 big-endian bytes. Currency-transfer tokens (class 0, subclass 4-7,
Edition 3) use CRC_C: the same CRC over those 7 bytes followed by ``0x01``.
"""

from __future__ import annotations

__all__ = ["crc16_modbus", "crc16_sts", "token_crc"]

_POLY = 0xA001


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ _POLY if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


_TABLE = _make_table()


def crc16_modbus(data: bytes) -> int:
    """Return the CRC-16/MODBUS register over ``data`` (no byte swap)."""
    reg = 0xFFFF
    table = _TABLE
    for byte in data:
        reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
    return reg


def crc16_sts(data: bytes) -> int:
    """Return the STS CRC field for ``data``: the MODBUS register, bytes swapped."""
    reg = crc16_modbus(data)
    return ((reg & 0xFF) << 8) | (reg >> 8)


def token_crc(value50: int, *, currency: bool = False) -> int:
    """Return the CRC field for a token's 50-bit ``class|subclass|payload`` value.

    ``currency`` selects CRC_C (one ``0x01`` byte appended), used by class 0
    subclasses 4-7.
    """
    data = value50.to_bytes(7, "big")
    if currency:
        data += b"\x01"
    return crc16_sts(data)
