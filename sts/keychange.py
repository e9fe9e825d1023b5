"""Key change token sets: moving a meter to a new decoder key.

A key change is 2, 3 or 4 class-2 tokens, all encrypted under the meter's
**current** key, that together carry the new key, its KRN, KT, TI and KEN, the
rollover bit RO (clear the TID memory; used with a base-date change) and, from
Edition 3, the new SGC:

* EA07 2-token set: sections 1 + 2 (64-bit key).
* EA07 3-token set: RES = 1 in section 1, section 3 carries the SGC as 24 bits.
* EA11 4-token set: sections 1-4; the 128-bit key is split 127..96 (1),
  95..64 (3), 63..32 (4), 31..0 (2) and the SGC's low/high 12 bits ride in
  sections 3/4.

A meter accepts the sections in any order and applies the change only when the
set is complete (:meth:`KeyChange.assemble`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sts.errors import FieldError, IdentifierError, KeyFormatError
from sts.identifiers import KeyType, check_ken, check_krn, check_sgc, check_ti
from sts.tokens import KeyChange1, KeyChange2, KeyChange3, KeyChange4, KeyChangeSection

__all__ = ["KeyChange"]

_WORD = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class KeyChange:
    """What a key change token set tells a meter (the new key is secret: no repr)."""

    new_key: bytes
    krn: int
    kt: KeyType
    ti: int
    ken: int = 255
    ro: bool = False
    sgc: str | None = None

    def __post_init__(self) -> None:
        if len(self.new_key) not in (8, 16):
            raise KeyFormatError(f"a new decoder key has 8 or 16 bytes, got {len(self.new_key)}")
        check_krn(self.krn)
        check_ken(self.ken)
        check_ti(self.ti)
        object.__setattr__(self, "kt", KeyType(self.kt))
        if self.sgc is not None:
            check_sgc(self.sgc)
        elif len(self.new_key) == 16:
            raise IdentifierError("an EA11 (4-token) key change must carry the new SGC")

    def __repr__(self) -> str:
        return (
            f"KeyChange(new_key=<{len(self.new_key) * 8}-bit, hidden>, krn={self.krn}, "
            f"kt={self.kt.name}, ti={self.ti}, ken={self.ken}, ro={self.ro}, sgc={self.sgc!r})"
        )

    @property
    def set_size(self) -> int:
        """How many tokens the set has: 2, 3 (EA07 with SGC) or 4 (EA11)."""
        if len(self.new_key) == 16:
            return 4
        return 2 if self.sgc is None else 3

    def sections(self) -> tuple[KeyChangeSection, ...]:
        """The tokens of the set, section 1 first (encrypt each with the current key)."""
        key = int.from_bytes(self.new_key, "big")
        wide = len(self.new_key) == 16
        first = KeyChange1(
            kenho=self.ken >> 4,
            krn=self.krn,
            ro=int(self.ro),
            res=int(self.set_size == 3),
            kt=int(self.kt),
            key_bits=(key >> (96 if wide else 32)) & _WORD,
        )
        second = KeyChange2(kenlo=self.ken & 0xF, ti=self.ti, key_bits=key & _WORD)
        if self.sgc is None:
            return first, second
        sgc = int(self.sgc)
        if not wide:
            return first, second, KeyChange3(high=sgc >> 12, key_bits=(sgc & 0xFFF) << 20)
        third = KeyChange3(high=sgc & 0xFFF, key_bits=(key >> 64) & _WORD)
        fourth = KeyChange4(high=sgc >> 12, key_bits=(key >> 32) & _WORD)
        return first, second, third, fourth

    @classmethod
    def assemble(cls, sections: Iterable[KeyChangeSection], *, ea: int) -> KeyChange | None:
        """Combine received sections (any order) into the change, or None if incomplete.

        ``ea`` is the meter's algorithm (7 or 11): it decides the set's shape. Sections
        that do not belong together (for example a 3rd section whose padding is not zero
        in an EA07 set) raise :class:`~sts.errors.FieldError`; a complete set whose values
        are out of range (KRN 0, TI above 99, SGC above 999999) raises
        :class:`~sts.errors.IdentifierError`.
        """
        by_type = {type(section): section for section in sections}
        first, second = by_type.get(KeyChange1), by_type.get(KeyChange2)
        third, fourth = by_type.get(KeyChange3), by_type.get(KeyChange4)
        if not isinstance(first, KeyChange1) or not isinstance(second, KeyChange2):
            return None
        if ea == 7 and not first.res:
            key = (first.key_bits << 32) | second.key_bits
            return cls._from_sections(first, second, key.to_bytes(8, "big"), None)
        if not isinstance(third, KeyChange3):
            return None
        if ea == 7:
            if third.key_bits & 0xFFFFF:
                raise FieldError("the 3rd key change section of an EA07 set must end in zeros")
            key = (first.key_bits << 32) | second.key_bits
            sgc = (third.high << 12) | (third.key_bits >> 20)
            return cls._from_sections(first, second, key.to_bytes(8, "big"), sgc)
        if not isinstance(fourth, KeyChange4):
            return None
        key = (first.key_bits << 64) | (third.key_bits << 32) | fourth.key_bits
        key = (key << 32) | second.key_bits
        sgc = (fourth.high << 12) | third.high
        return cls._from_sections(first, second, key.to_bytes(16, "big"), sgc)

    @classmethod
    def _from_sections(
        cls, first: KeyChange1, second: KeyChange2, new_key: bytes, sgc: int | None
    ) -> KeyChange:
        if sgc is not None and sgc > 999_999:
            raise FieldError(f"a key change carries SGC {sgc}, more than 6 digits")
        return cls(
            new_key=new_key,
            krn=first.krn,
            kt=KeyType(first.kt),
            ti=second.ti,
            ken=(first.kenho << 4) | second.kenlo,
            ro=bool(first.ro),
            sgc=None if sgc is None else f"{sgc:06d}",
        )
