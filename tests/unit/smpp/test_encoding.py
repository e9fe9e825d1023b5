"""Splitting and data_coding (messaging.md §3.4; 3GPP TS 23.038 / 23.040), hand-counted."""

from __future__ import annotations

import pytest

from smpp.encoding import (
    DC_GSM7,
    DC_UCS2,
    decode_user_data,
    encode_gsm7,
    radio_octets,
    split_text,
)

ARABIC = "ب"  # U+0628, not in GSM 03.38: forces UCS-2


def test_gsm7_septet_values() -> None:
    """'@' is 0x00, 'A' 0x41, '£' 0x01, '€' is the escape pair 1B 65 (GSM 03.38)."""
    assert encode_gsm7("@A£€") == bytes([0x00, 0x41, 0x01, 0x1B, 0x65])
    assert encode_gsm7("ب") is None


def test_160_gsm7_characters_are_one_sms() -> None:
    """One SMS holds 160 septets; no UDH, data_coding 0."""
    result = split_text("a" * 160, 1)
    assert (result.data_coding, result.concatenated) == (DC_GSM7, False)
    assert result.parts == (b"a" * 160,)


def test_161_gsm7_characters_are_153_plus_8_with_udh() -> None:
    """161 > 160: parts of 153 septets after UDH 05 00 03 <ref> <total> <seq>."""
    result = split_text("a" * 161, 0x2A)
    assert result.parts == (
        bytes([5, 0, 3, 0x2A, 2, 1]) + b"a" * 153,
        bytes([5, 0, 3, 0x2A, 2, 2]) + b"a" * 8,
    )


def test_an_escape_pair_is_never_split() -> None:
    """152 'a' + '€' (2 septets) + 'b' * 10: 152 + 2 = 154 > 153, so '€' opens part 2."""
    result = split_text("a" * 152 + "€" + "b" * 10, 1)
    first, second = (part[6:] for part in result.parts)
    assert first == b"a" * 152
    assert second == bytes([0x1B, 0x65]) + b"b" * 10


def test_escape_pairs_count_double_for_the_single_limit() -> None:
    """80 '€' are 160 septets (one SMS); 81 are 162 (two parts: 76 + 5 pairs)."""
    assert len(split_text("€" * 80, 1).parts) == 1
    parts = split_text("€" * 81, 1).parts
    assert [len(p) - 6 for p in parts] == [152, 10]  # 76 pairs = 152 septets fit 153


def test_70_arabic_characters_are_one_ucs2_sms() -> None:
    """70 UCS-2 characters = 140 octets: one SMS, data_coding 8, UTF-16BE."""
    result = split_text(ARABIC * 70, 1)
    assert (result.data_coding, len(result.parts)) == (DC_UCS2, 1)
    assert result.parts[0] == b"\x06\x28" * 70


def test_97_arabic_characters_are_140_plus_66_octets() -> None:
    """messaging.md §3.6: 97 chars = 67 + 30, i.e. 6 + 134 = 140 and 6 + 60 = 66 octets."""
    result = split_text(ARABIC * 97, 3)
    assert [len(p) for p in result.parts] == [140, 66]


def test_one_arabic_letter_makes_the_whole_text_ucs2() -> None:
    """'Token 1234' plus one Arabic letter: 11 characters, 22 octets, data_coding 8."""
    result = split_text("Token 1234" + ARABIC, 1)
    assert (result.data_coding, len(result.parts[0])) == (DC_UCS2, 22)


def test_a_surrogate_pair_is_never_split() -> None:
    """66 Arabic (132 octets) + an emoji (4 octets): 136 > 134, so the emoji opens part 2."""
    result = split_text(ARABIC * 66 + "😀" + ARABIC * 4, 1)
    assert [len(p) - 6 for p in result.parts] == [132, 4 + 8]


def test_empty_and_oversized_texts_are_refused() -> None:
    """No empty SMS; more than 255 parts cannot be numbered in one octet."""
    with pytest.raises(ValueError, match="text"):
        split_text("", 1)
    with pytest.raises(ValueError, match="255"):
        split_text("a" * (153 * 255 + 1), 1)


def test_radio_size_of_a_full_gsm7_part_is_140_octets() -> None:
    """UDH 6 octets = 48 bits, padded to 49 (7 septets); + 153 x 7 = 1120 bits = 140 octets."""
    part = bytes([5, 0, 3, 1, 2, 1]) + b"a" * 153
    assert radio_octets(part, DC_GSM7, udhi=True) == 140
    assert radio_octets(part + b"a", DC_GSM7, udhi=True) == 141
    assert radio_octets(b"a" * 160, DC_GSM7, udhi=False) == 140  # 160 x 7 / 8


def test_user_data_round_trips_to_text() -> None:
    """What the splitter produced decodes back to the text, UDH skipped."""
    text = "Token 1234-5678 {ok} €"
    for part in split_text(text, 1).parts:
        assert decode_user_data(part, DC_GSM7) == text
    arabic = split_text(ARABIC * 100, 9)
    joined = "".join(decode_user_data(p, DC_UCS2, udhi=True) for p in arabic.parts)
    assert joined == ARABIC * 100
