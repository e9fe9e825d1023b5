"""Decoder key generation: DKGA02 (DES) and DKGA04 (HMAC-SHA-256).

A meter's decoder key (DK) is derived from the utility's vending key (VK) and
the meter's identity, so the vending system stores one key per supply group,
not one per meter.

* **DKGA02** (64-bit DK, EA07 only): ``DK = DES_VK(X) xor X xor VK`` where
  ``X = PANBlock xor ControlBlock``. PANBlock is PAN digits 2-17 read as hex
  nibbles; ControlBlock is ``KT | SGC | TI | KRN | FFFFFF`` read the same way.
  It takes no base date.
* **DKGA04** (Edition 3; 64-bit DK for EA07, 128-bit for EA11): the first 8 or
  16 bytes of ``HMAC-SHA-256(VK, message)`` with a 20-byte VK, where the message
  is a label (algorithm, base date, EA, TI), a zero byte, a context (SGC, KT,
  KRN, PAN) and the output length in bits (see :func:`dkga04_message`).

Keys are in natural byte order (as DES and HMAC output them).

Only unique keys (KT 2, DUTK) have public DKGA02 vectors; for key types 0, 1 and
3 the same block layout is used, which is unconfirmed.
"""

from __future__ import annotations

import hashlib
import hmac

from Crypto.Cipher import DES

from sts.errors import IdentifierError, KeyFormatError
from sts.identifiers import Pan, check_krn, check_sgc, check_ti
from sts.tid import BASE_DATES

__all__ = ["derive", "dkga02", "dkga02_blocks", "dkga04", "dkga04_message"]


def _check_kt(kt: int) -> int:
    if not isinstance(kt, int) or isinstance(kt, bool) or kt not in (0, 1, 2, 3):
        raise IdentifierError(f"key type must be 0-3, got {kt!r}")
    return int(kt)


def dkga02_blocks(pan: Pan, *, sgc: str, ti: int, krn: int, kt: int) -> tuple[int, int]:
    """Return DKGA02's (PANBlock, ControlBlock) as 64-bit integers."""
    pan_block = int(pan.digits[1:17], 16)
    control = f"{_check_kt(kt)}{check_sgc(sgc)}{check_ti(ti):02d}{check_krn(krn)}FFFFFF"
    return pan_block, int(control, 16)


def dkga02(vending_key: bytes, pan: Pan, *, sgc: str, ti: int, krn: int, kt: int) -> bytes:
    """Derive a 64-bit decoder key with DKGA02 from an 8-byte DES vending key."""
    if len(vending_key) != 8:
        raise KeyFormatError(f"DKGA02 needs an 8-byte vending key, got {len(vending_key)} bytes")
    pan_block, control_block = dkga02_blocks(pan, sgc=sgc, ti=ti, krn=krn, kt=kt)
    x = (pan_block ^ control_block).to_bytes(8, "big")
    encrypted = DES.new(vending_key, DES.MODE_ECB).encrypt(x)
    key = int.from_bytes(encrypted, "big") ^ int.from_bytes(x, "big")
    return (key ^ int.from_bytes(vending_key, "big")).to_bytes(8, "big")


def _field(text: str) -> bytes:
    data = text.encode("ascii")
    return bytes([len(data)]) + data


def dkga04_message(
    pan: Pan, *, sgc: str, ti: int, krn: int, kt: int, base_date: int, ea: int
) -> bytes:
    """Return the HMAC input of DKGA04 for a meter."""
    if base_date not in BASE_DATES:
        raise IdentifierError(f"base date must be 1993, 2014 or 2035, got {base_date!r}")
    if ea not in (7, 11):
        raise IdentifierError(f"encryption algorithm must be 7 or 11, got {ea!r}")
    label = b"\x04" + b"".join(
        _field(part)
        for part in ("04", f"{base_date % 100:02d}", f"{ea:02d}", f"{check_ti(ti):02d}")
    )
    context = b"\x04" + b"".join(
        _field(part)
        for part in (check_sgc(sgc), f"{_check_kt(kt):X}", f"{check_krn(krn):X}", pan.digits)
    )
    bits = 64 if ea == 7 else 128
    return label + b"\x00" + context + bits.to_bytes(4, "big")


def dkga04(
    vending_key: bytes, pan: Pan, *, sgc: str, ti: int, krn: int, kt: int, base_date: int, ea: int
) -> bytes:
    """Derive a decoder key with DKGA04: 8 bytes for EA07, 16 for EA11."""
    if len(vending_key) != 20:
        raise KeyFormatError(f"DKGA04 needs a 20-byte vending key, got {len(vending_key)} bytes")
    message = dkga04_message(pan, sgc=sgc, ti=ti, krn=krn, kt=kt, base_date=base_date, ea=ea)
    digest = hmac.new(vending_key, message, hashlib.sha256).digest()
    return digest[: 8 if ea == 7 else 16]


def derive(
    dkga: int,
    vending_key: bytes,
    pan: Pan,
    *,
    sgc: str,
    ti: int,
    krn: int,
    kt: int,
    base_date: int,
    ea: int,
) -> bytes:
    """Derive a decoder key with DKGA ``dkga`` (2 or 4)."""
    if base_date not in BASE_DATES:
        raise IdentifierError(f"base date must be 1993, 2014 or 2035, got {base_date!r}")
    if dkga == 2:
        if ea != 7:
            raise IdentifierError("DKGA02 makes 64-bit keys, usable with EA07 only")
        return dkga02(vending_key, pan, sgc=sgc, ti=ti, krn=krn, kt=kt)
    if dkga == 4:
        return dkga04(vending_key, pan, sgc=sgc, ti=ti, krn=krn, kt=kt, base_date=base_date, ea=ea)
    raise IdentifierError(f"key derivation algorithm must be 2 or 4, got {dkga!r}")
