"""Text to SMS parts: GSM-7 or UCS-2, split by us at radio size with a UDH (messaging.md §3.4).

Pure functions. GSM 03.38 text goes as ``data_coding`` 0 in *unpacked* septets (one octet
each, the SMSC packs them); anything else (Arabic, emoji) as ``data_coding`` 8, UTF-16BE.
One SMS holds 160 septets or 70 UCS-2 units; a concatenated part 153 septets or 67 units,
after the 6-octet UDH ``05 00 03 <ref> <total> <seq>`` (``esm_class`` 0x40). An extension
character (``{}[]~|^€``, backslash, form feed) is the pair ``1B xx``, never split; nor
is a UTF-16 surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "DC_GSM7",
    "DC_UCS2",
    "ESM_UDHI",
    "MAX_PARTS",
    "Segmented",
    "decode_gsm7",
    "decode_user_data",
    "encode_gsm7",
    "radio_octets",
    "split_text",
]

DC_GSM7: Final = 0x00
DC_UCS2: Final = 0x08
ESM_UDHI: Final = 0x40
MAX_PARTS: Final = 255
_ESC: Final = 0x1B
_UDH_LEN: Final = 6
#: GSM 03.38 default alphabet; position = septet value (0x1B, the escape, is a placeholder).
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION: Final = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_TO_SEPTET: Final = {ch: i for i, ch in enumerate(_BASIC) if i != _ESC}
_FROM_EXTENSION: Final = {v: k for k, v in _EXTENSION.items()}
_SINGLE: Final = {DC_GSM7: 160, DC_UCS2: 140}  # septets / octets in one SMS
_PART: Final = {DC_GSM7: 153, DC_UCS2: 134}  # the same, per part after the UDH


@dataclass(frozen=True, slots=True)
class Segmented:
    """A text ready for ``submit_sm``: its ``data_coding`` and each part's user data.

    With more than one part every part starts with the UDH and ``esm_class`` needs
    :data:`ESM_UDHI`.
    """

    data_coding: int
    parts: tuple[bytes, ...]

    @property
    def concatenated(self) -> bool:
        """Whether the parts carry a UDH."""
        return len(self.parts) > 1


def _gsm7_units(text: str) -> list[bytes] | None:
    units: list[bytes] = []
    for ch in text:
        if ch in _TO_SEPTET:
            units.append(bytes([_TO_SEPTET[ch]]))
        elif ch in _EXTENSION:
            units.append(bytes([_ESC, _EXTENSION[ch]]))
        else:
            return None
    return units


def _ucs2_units(text: str) -> list[bytes]:
    return [ch.encode("utf-16-be") for ch in text]  # 2 octets, or 4 for a surrogate pair


def encode_gsm7(text: str) -> bytes | None:
    """Unpacked GSM-7 septets of ``text``, or None when a character is not in GSM 03.38."""
    units = _gsm7_units(text)
    return None if units is None else b"".join(units)


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM-7 septets back to text (unknown escapes become a space)."""
    out: list[str] = []
    escaped = False
    for octet in data:
        if escaped:
            out.append(_FROM_EXTENSION.get(octet, " "))
            escaped = False
        elif octet == _ESC:
            escaped = True
        else:
            out.append(_BASIC[octet & 0x7F])
    return "".join(out)


def decode_user_data(data: bytes, data_coding: int, *, udhi: bool = False) -> str:
    """The text of a ``short_message`` (UDH skipped when ``udhi``); Latin-1 for other codings."""
    if udhi and data:
        data = data[1 + data[0] :]
    if data_coding == DC_UCS2:
        return data.decode("utf-16-be", "replace")
    if data_coding == DC_GSM7:
        return decode_gsm7(data)
    return data.decode("latin-1")


def _pack(units: list[bytes], limit: int) -> list[bytes]:
    """Greedy: as many whole units as fit ``limit`` octets per chunk."""
    chunks: list[bytes] = []
    current = b""
    for unit in units:
        if len(current) + len(unit) > limit:
            chunks.append(current)
            current = b""
        current += unit
    chunks.append(current)
    return chunks


def split_text(text: str, reference: int) -> Segmented:
    """``text`` as one SMS or as concatenated parts with the 8-bit reference ``reference``.

    Raises ValueError for an empty text or one needing more than :data:`MAX_PARTS` parts.
    """
    if not text:
        raise ValueError("an SMS needs a text")
    gsm = _gsm7_units(text)
    coding, units = (DC_GSM7, gsm) if gsm is not None else (DC_UCS2, _ucs2_units(text))
    if sum(map(len, units)) <= _SINGLE[coding]:
        return Segmented(coding, (b"".join(units),))
    chunks = _pack(units, _PART[coding])
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"text needs {len(chunks)} parts, more than {MAX_PARTS}")
    ref = reference % 256
    total = len(chunks)
    parts = tuple(
        bytes([5, 0, 3, ref, total, seq]) + chunk for seq, chunk in enumerate(chunks, start=1)
    )
    return Segmented(coding, parts)


def radio_octets(user_data: bytes, data_coding: int, *, udhi: bool) -> int:
    """Octets the part takes on the air interface (its TP-UD, max 140).

    For GSM-7 the unpacked septets are packed 7 bits each after the UDH, which is padded
    to a septet boundary (3GPP TS 23.040 §9.2.3.24): 6 UDH octets + 153 septets = 140.
    """
    if data_coding != DC_GSM7:
        return len(user_data)
    udh = 1 + user_data[0] if udhi and user_data else 0
    udh_septets = -(-udh * 8 // 7)
    septets = udh_septets + len(user_data) - udh
    return -(-septets * 7 // 8)
