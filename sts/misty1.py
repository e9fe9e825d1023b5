"""MISTY1, the 64-bit block cipher of RFC 2994, used unchanged as the STS EA11 token cipher.

MISTY1 (Mitsuru Matsui, Mitsubishi Electric, 1996) encrypts a 64-bit block
under a 128-bit key. RFC 2994 ("A Description of the MISTY1 Encryption
Algorithm") is the reference followed here, names included:

* Key schedule: the key is eight 16-bit words ``K_1..K_8`` (big-endian). It is
  extended by ``K'_i = FI(K_i, K_{i+1})`` (indices mod 8); see :func:`expand_key`.
* Data randomizing part: an 8-round Feistel network on two 32-bit halves. Each
  round applies ``FO`` (three rounds of the 16-bit ``FI``, which uses the
  S-boxes ``S7`` and ``S9``) to one half and XORs it into the other. The
  key-dependent linear layer ``FL`` is applied to both halves before rounds
  1, 3, 5 and 7 and after round 8; decryption runs the rounds backwards with
  ``FLinv``.

STS EA11 (IEC 62055-41 Ed.3) is plain MISTY1 with the 16-byte decoder key in
natural byte order, applied to the 64-bit token block read as 8 big-endian
bytes. Blocks are handled here as Python ints in ``0 .. 2**64 - 1``.

The module is pure: no I/O and no mutable module state. The S-box literals
below are RFC 2994's S7 and S9 tables.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from sts.errors import FieldError, KeyFormatError

__all__ = ["Misty1", "decrypt_block", "encrypt_block", "expand_key"]

_KEY_SIZE: Final = 16  # MISTY1 key length in bytes (128 bits)

_MASK16: Final = 0xFFFF
_MASK32: Final = 0xFFFF_FFFF
_MASK64: Final = 0xFFFF_FFFF_FFFF_FFFF

# The RFC 2994 S-boxes: S7 permutes 7-bit values, S9 permutes 9-bit values.
# fmt: off
_S7: Final[tuple[int, ...]] = (
    27, 50, 51, 90, 59, 16, 23, 84, 91, 26, 114, 115, 107, 44, 102, 73,
    31, 36, 19, 108, 55, 46, 63, 74, 93, 15, 64, 86, 37, 81, 28, 4,
    11, 70, 32, 13, 123, 53, 68, 66, 43, 30, 65, 20, 75, 121, 21, 111,
    14, 85, 9, 54, 116, 12, 103, 83, 40, 10, 126, 56, 2, 7, 96, 41,
    25, 18, 101, 47, 48, 57, 8, 104, 95, 120, 42, 76, 100, 69, 117, 61,
    89, 72, 3, 87, 124, 79, 98, 60, 29, 33, 94, 39, 106, 112, 77, 58,
    1, 109, 110, 99, 24, 119, 35, 5, 38, 118, 0, 49, 45, 122, 127, 97,
    80, 34, 17, 6, 71, 22, 82, 78, 113, 62, 105, 67, 52, 92, 88, 125,
)

_S9: Final[tuple[int, ...]] = (
    451, 203, 339, 415, 483, 233, 251, 53, 385, 185, 279, 491, 307, 9, 45, 211,
    199, 330, 55, 126, 235, 356, 403, 472, 163, 286, 85, 44, 29, 418, 355, 280,
    331, 338, 466, 15, 43, 48, 314, 229, 273, 312, 398, 99, 227, 200, 500, 27,
    1, 157, 248, 416, 365, 499, 28, 326, 125, 209, 130, 490, 387, 301, 244, 414,
    467, 221, 482, 296, 480, 236, 89, 145, 17, 303, 38, 220, 176, 396, 271, 503,
    231, 364, 182, 249, 216, 337, 257, 332, 259, 184, 340, 299, 430, 23, 113, 12,
    71, 88, 127, 420, 308, 297, 132, 349, 413, 434, 419, 72, 124, 81, 458, 35,
    317, 423, 357, 59, 66, 218, 402, 206, 193, 107, 159, 497, 300, 388, 250, 406,
    481, 361, 381, 49, 384, 266, 148, 474, 390, 318, 284, 96, 373, 463, 103, 281,
    101, 104, 153, 336, 8, 7, 380, 183, 36, 25, 222, 295, 219, 228, 425, 82,
    265, 144, 412, 449, 40, 435, 309, 362, 374, 223, 485, 392, 197, 366, 478, 433,
    195, 479, 54, 238, 494, 240, 147, 73, 154, 438, 105, 129, 293, 11, 94, 180,
    329, 455, 372, 62, 315, 439, 142, 454, 174, 16, 149, 495, 78, 242, 509, 133,
    253, 246, 160, 367, 131, 138, 342, 155, 316, 263, 359, 152, 464, 489, 3, 510,
    189, 290, 137, 210, 399, 18, 51, 106, 322, 237, 368, 283, 226, 335, 344, 305,
    327, 93, 275, 461, 121, 353, 421, 377, 158, 436, 204, 34, 306, 26, 232, 4,
    391, 493, 407, 57, 447, 471, 39, 395, 198, 156, 208, 334, 108, 52, 498, 110,
    202, 37, 186, 401, 254, 19, 262, 47, 429, 370, 475, 192, 267, 470, 245, 492,
    269, 118, 276, 427, 117, 268, 484, 345, 84, 287, 75, 196, 446, 247, 41, 164,
    14, 496, 119, 77, 378, 134, 139, 179, 369, 191, 270, 260, 151, 347, 352, 360,
    215, 187, 102, 462, 252, 146, 453, 111, 22, 74, 161, 313, 175, 241, 400, 10,
    426, 323, 379, 86, 397, 358, 212, 507, 333, 404, 410, 135, 504, 291, 167, 440,
    321, 60, 505, 320, 42, 341, 282, 417, 408, 213, 294, 431, 97, 302, 343, 476,
    114, 394, 170, 150, 277, 239, 69, 123, 141, 325, 83, 95, 376, 178, 46, 32,
    469, 63, 457, 487, 428, 68, 56, 20, 177, 363, 171, 181, 90, 386, 456, 468,
    24, 375, 100, 207, 109, 256, 409, 304, 346, 5, 288, 443, 445, 224, 79, 214,
    319, 452, 298, 21, 6, 255, 411, 166, 67, 136, 80, 351, 488, 289, 115, 382,
    188, 194, 201, 371, 393, 501, 116, 460, 486, 424, 405, 31, 65, 13, 442, 50,
    61, 465, 128, 168, 87, 441, 354, 328, 217, 261, 98, 122, 33, 511, 274, 264,
    448, 169, 285, 432, 422, 205, 243, 92, 258, 91, 473, 324, 502, 173, 165, 58,
    459, 310, 383, 70, 225, 30, 477, 230, 311, 506, 389, 140, 143, 64, 437, 190,
    120, 0, 172, 272, 350, 292, 2, 444, 162, 234, 112, 508, 278, 348, 76, 450,
)
# fmt: on

# Round keys of one FO call, in the order FO uses them: (KO1, KI1, KO2, KI2, KO3, KI3, KO4).
_FOKey: TypeAlias = tuple[int, int, int, int, int, int, int]
# Keys of one FL/FLinv call: (KL1, KL2).
_FLKey: TypeAlias = tuple[int, int]


def FI(fi_in: int, fi_key: int) -> int:  # noqa: N802 - RFC 2994 name
    """Return FI of a 16-bit input: two S9 and one S7 lookups mixed with a 16-bit key.

    The input splits into a 9-bit (high) and a 7-bit (low) half. After S9 and
    S7, the key's top 7 bits (KIij1) and low 9 bits (KIij2) are XORed in, then
    the 9-bit half goes through S9 again.
    """
    d9 = fi_in >> 7
    d7 = fi_in & 0x7F
    d9 = _S9[d9] ^ d7
    d7 = (_S7[d7] ^ d9) & 0x7F
    d7 ^= fi_key >> 9
    d9 ^= fi_key & 0x1FF
    d9 = _S9[d9] ^ d7
    return (d7 << 9) | d9


def FO(fo_in: int, key: _FOKey) -> int:  # noqa: N802 - RFC 2994 name
    """Return FO of a 32-bit input: a 3-round Feistel of FI on its 16-bit halves."""
    ko1, ki1, ko2, ki2, ko3, ki3, ko4 = key
    t0 = fo_in >> 16
    t1 = fo_in & _MASK16
    t0 = FI(t0 ^ ko1, ki1) ^ t1
    t1 = FI(t1 ^ ko2, ki2) ^ t0
    t0 = FI(t0 ^ ko3, ki3) ^ t1
    t1 ^= ko4
    return (t1 << 16) | t0


def FL(fl_in: int, key: _FLKey) -> int:  # noqa: N802 - RFC 2994 name
    """Return FL of a 32-bit input: the key-dependent linear layer (AND, then OR)."""
    kl1, kl2 = key
    d0 = fl_in >> 16
    d1 = fl_in & _MASK16
    d1 ^= d0 & kl1
    d0 ^= d1 | kl2
    return (d0 << 16) | d1


def FLinv(fl_in: int, key: _FLKey) -> int:  # noqa: N802 - RFC 2994 name
    """Return the inverse of FL under the same key (the two steps undone in reverse)."""
    kl1, kl2 = key
    d0 = fl_in >> 16
    d1 = fl_in & _MASK16
    d0 ^= d1 | kl2
    d1 ^= d0 & kl1
    return (d0 << 16) | d1


def _key_words(key: object) -> tuple[int, ...]:
    """Validate a MISTY1 key and return it as eight big-endian 16-bit words K_1..K_8.

    ``key`` is typed ``object`` because this is the runtime check: a hex string
    or an int is rejected with :class:`TypeError` instead of being misread.
    """
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"MISTY1 key must be bytes, got {type(key).__name__}")
    if len(key) != _KEY_SIZE:
        raise KeyFormatError(f"MISTY1 needs a 16-byte key, got {len(key)} bytes")
    return tuple(int.from_bytes(key[i : i + 2], "big") for i in range(0, _KEY_SIZE, 2))


def expand_key(key: bytes) -> tuple[int, ...]:
    """Return RFC 2994's expanded key words K'_1..K'_8, with K'_i = FI(K_i, K_{i+1}).

    ``key`` must be 16 bytes (else :class:`~sts.errors.KeyFormatError`). The
    original words K_1..K_8 are simply the key bytes read big-endian in pairs.
    """
    return _expand_words(_key_words(key))


def _expand_words(k: tuple[int, ...]) -> tuple[int, ...]:
    """Return K'_1..K'_8 from the key words K_1..K_8 (the body of :func:`expand_key`)."""
    return tuple(FI(k[i], k[(i + 1) % 8]) for i in range(8))


def _round_keys(key: bytes) -> tuple[tuple[_FOKey, ...], tuple[_FLKey, ...]]:
    """Return the 8 FO key tuples and 10 FL key pairs, per RFC 2994's key table.

    With 0-based ``i`` (RFC round i+1) and indices mod 8, ``K`` the key words and
    ``Kp`` the expanded words K':
    KOi1..KOi4 = K[i], K[i+2], K[i+7], K[i+4]; KIi1..KIi3 = Kp[i+5], Kp[i+1], Kp[i+3];
    FL number ``n`` (0..9) uses (KL1, KL2) = (K[n/2], Kp[n/2+6]) for even n and
    (Kp[(n-1)/2+2], K[(n-1)/2+4]) for odd n.
    """
    k = _key_words(key)
    kp = _expand_words(k)
    fo_keys = tuple(
        (
            k[i],
            kp[(i + 5) % 8],
            k[(i + 2) % 8],
            kp[(i + 1) % 8],
            k[(i + 7) % 8],
            kp[(i + 3) % 8],
            k[(i + 4) % 8],
        )
        for i in range(8)
    )
    fl_keys: list[_FLKey] = []
    for n in range(10):
        if n % 2 == 0:
            fl_keys.append((k[n // 2], kp[(n // 2 + 6) % 8]))
        else:
            m = (n - 1) // 2
            fl_keys.append((kp[(m + 2) % 8], k[(m + 4) % 8]))
    return fo_keys, tuple(fl_keys)


def _check_block(block: object) -> None:
    """Raise unless ``block`` is an int in 0 .. 2**64 - 1 (``object``: a runtime check)."""
    if not isinstance(block, int):
        raise TypeError(f"MISTY1 block must be an int, got {type(block).__name__}")
    if not 0 <= block <= _MASK64:
        raise FieldError(
            f"MISTY1 block must be a 64-bit unsigned integer (0 to 2**64 - 1), got {block}"
        )


class Misty1:
    """MISTY1 with one expanded 128-bit key; blocks are 64-bit ints (big-endian byte order)."""

    __slots__ = ("_fl_keys", "_fo_keys")

    _fo_keys: tuple[_FOKey, ...]
    _fl_keys: tuple[_FLKey, ...]

    def __init__(self, key: bytes) -> None:
        """Expand ``key`` (exactly 16 bytes, else :class:`~sts.errors.KeyFormatError`)."""
        self._fo_keys, self._fl_keys = _round_keys(key)

    def encrypt(self, block: int) -> int:
        """Encrypt one 64-bit block; its high 32 bits are the RFC's left half D0."""
        _check_block(block)
        fo = self._fo_keys
        fl = self._fl_keys
        d0 = block >> 32
        d1 = block & _MASK32
        for r in (0, 2, 4, 6):
            d0 = FL(d0, fl[r])
            d1 = FL(d1, fl[r + 1])
            d1 ^= FO(d0, fo[r])
            d0 ^= FO(d1, fo[r + 1])
        d0 = FL(d0, fl[8])
        d1 = FL(d1, fl[9])
        return (d1 << 32) | d0

    def decrypt(self, block: int) -> int:
        """Decrypt one 64-bit block: the rounds of :meth:`encrypt` undone in reverse."""
        _check_block(block)
        fo = self._fo_keys
        fl = self._fl_keys
        d0 = block & _MASK32
        d1 = block >> 32
        d0 = FLinv(d0, fl[8])
        d1 = FLinv(d1, fl[9])
        for r in (6, 4, 2, 0):
            d0 ^= FO(d1, fo[r + 1])
            d1 ^= FO(d0, fo[r])
            d0 = FLinv(d0, fl[r])
            d1 = FLinv(d1, fl[r + 1])
        return (d0 << 32) | d1


def encrypt_block(key: bytes, block: int) -> int:
    """Encrypt one 64-bit block under a 16-byte key (expands the key on every call)."""
    return Misty1(key).encrypt(block)


def decrypt_block(key: bytes, block: int) -> int:
    """Decrypt one 64-bit block under a 16-byte key (expands the key on every call)."""
    return Misty1(key).decrypt(block)
