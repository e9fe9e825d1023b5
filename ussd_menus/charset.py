"""Screen budgets: GSM 03.38 (3GPP TS 23.038) 7-bit alphabet, or UCS-2.

A USSD screen is 160 octets: 182 GSM-7 septets, or 80 UCS-2 characters when any
character is outside the GSM-7 alphabet (Arabic, ``ç``, ``ê``...). Extension-table
characters (``€``, ``[``...) cost two septets (escape + character).
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["GSM7_LIMIT", "UCS2_LIMIT", "budget", "fits", "fold_gsm7", "is_gsm7", "septets"]

GSM7_LIMIT = 182
UCS2_LIMIT = 80

#: The basic character set, in code-point order 0x00-0x7F (0x1B, the escape, excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: each costs an escape septet plus its own.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_PLAIN = frozenset(GSM7_BASIC)


def is_gsm7(text: str) -> bool:
    """Every character is in the GSM-7 basic set or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def septets(text: str) -> int:
    """GSM-7 length in septets (extension characters count twice)."""
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def _ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def budget(text: str) -> tuple[int, int]:
    """``(length, limit)`` of ``text`` on one screen, in the encoding it needs."""
    if is_gsm7(text):
        return septets(text), GSM7_LIMIT
    return _ucs2_units(text), UCS2_LIMIT


def fits(text: str) -> bool:
    """The text fits on one USSD screen."""
    length, limit = budget(text)
    return length <= limit


@functools.lru_cache(maxsize=4096)
def fold_gsm7(text: str) -> str:
    """Data for a GSM-7 screen: accents dropped where that makes a GSM character.

    ``Ngozi Ọkọ`` becomes ``Ngozi Oko``; characters with no GSM form become ``?``. Cached:
    every screen folds the session's values again, and they rarely change between hops.
    """
    if _PLAIN.issuperset(text):
        return text
    out = []
    for char in text:
        if char in GSM7_BASIC:
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and is_gsm7(base) and base not in GSM7_EXTENSION else "?")
    return "".join(out)
