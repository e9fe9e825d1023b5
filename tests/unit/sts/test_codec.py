"""Token values <-> 20-digit tokens.

Layout, class-bit transposition, CRC checks, round trips for every class and subclass under
both ciphers, and malformed input.
"""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    DecoderKey,
    ExtendedSet,
    InitiateMeterTest,
    KeyChange,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    KeyType,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    StsError,
    Token,
    TransferCredit,
    Utility,
    decode,
    encode,
    plain_block,
)
from sts.amount import CurrencyAmount
from sts.codec import format_token, join_class, parse_token, split_class
from sts.errors import CrcError, FieldError, KeyFormatError, TokenFormatError
from sts.tokens import TokenClass

u4, u16, u24, u32 = (st.integers(0, (1 << n) - 1) for n in (4, 16, 24, 32))
utilities = st.sampled_from(list(Utility))

tid_tokens: st.SearchStrategy[Token] = st.one_of(
    st.builds(TransferCredit, utility=utilities, tid=u24, rnd=u4, amount_field=u16),
    st.builds(
        CurrencyTransfer,
        utility=utilities,
        tid=u24,
        amount=st.builds(
            CurrencyAmount, st.integers(0, 1), st.integers(0, 31), st.integers(0, 16383)
        ),
    ),
    st.builds(SetMaximumPowerLimit, tid=u24, rnd=u4, amount_field=u16),
    st.builds(SetMaximumPhasePowerUnbalanceLimit, tid=u24, rnd=u4, amount_field=u16),
    st.builds(ClearCredit, tid=u24, rnd=u4, register=u16),
    st.builds(SetTariffRate, tid=u24, rnd=u4, rate=u16),
    st.builds(ClearTamperCondition, tid=u24, rnd=u4, pad=u16),
    st.builds(SetWaterMeterFactor, tid=u24, rnd=u4, factor=u16),
    st.builds(ExtendedSet, tid=u24, rnd=u4, index=st.integers(0, 63), value=st.integers(0, 1023)),
)
kct_sections: st.SearchStrategy[Token] = st.one_of(
    st.builds(
        KeyChange1,
        kenho=u4,
        krn=u4,
        ro=st.integers(0, 1),
        res=st.integers(0, 1),
        kt=st.integers(0, 3),
        key_bits=u32,
    ),
    st.builds(KeyChange2, kenlo=u4, ti=st.integers(0, 255), key_bits=u32),
    st.builds(KeyChange3, high=st.integers(0, 4095), key_bits=u32),
    st.builds(KeyChange4, high=st.integers(0, 4095), key_bits=u32),
)
encrypted_tokens = st.one_of(tid_tokens, kct_sections)
test_tokens = st.builds(
    InitiateMeterTest, subclass=st.integers(0, 2), data=st.integers(0, (1 << 44) - 1)
)
keys = st.one_of(
    st.binary(min_size=8, max_size=8).map(DecoderKey),
    st.binary(min_size=16, max_size=16).map(DecoderKey),
)

# A/CTSA01-1 (group_a.jsonl): key E653341F9D5BF36F, credit 0.1 kWh at TID 5871715, RND 5.
CTSA01_KEY = DecoderKey.from_hex("E653341F9D5BF36F")
CTSA01_TOKEN = "23716100501183194197"


@settings(max_examples=300, deadline=None)
@given(token=encrypted_tokens, key=keys)
def test_round_trip_encrypted(token: Token, key: DecoderKey) -> None:
    """Any class 0/2 token of any subclass decodes to itself under EA07 and EA11."""
    text = encode(token, key)
    assert len(text) == 20
    assert text.isdigit()
    assert decode(text, key) == token


@settings(max_examples=200, deadline=None)
@given(token=test_tokens)
def test_round_trip_class1(token: InitiateMeterTest) -> None:
    """Class 1 tokens need no key and decode to themselves."""
    assert decode(encode(token, None), None) == token


def test_known_token_and_its_layout() -> None:
    """A/CTSA01-1: the block layout subclass|rnd|tid|amount|crc and the published token."""
    token = TransferCredit.of(Utility.ELECTRICITY, 1, tid=5871715, rnd=5)
    # 0 (subclass) 5 (rnd) 599863 (tid 5871715) 0001 (amount) 19E6 (CRC from the vector)
    assert plain_block(token) == 0x05599863000119E6
    assert encode(token, CTSA01_KEY) == CTSA01_TOKEN
    assert decode("2371-6100-5011-8319-4197", CTSA01_KEY) == token


def test_class_bits_transposition() -> None:
    """Block bits 28/27 move to 65/64 and the class takes their place (SPEC §3.8)."""
    block = (1 << 28) | (0 << 27) | 0xABC
    number = join_class(0b01, block)
    assert number == (0b10 << 64) | (0b01 << 27) | 0xABC
    assert split_class(number) == (0b01, block)


@settings(max_examples=200)
@given(token_class=st.integers(0, 3), block=st.integers(0, (1 << 64) - 1))
def test_transposition_is_inverse(token_class: int, block: int) -> None:
    """split_class undoes join_class for every class and block."""
    assert split_class(join_class(token_class, block)) == (token_class, block)


def test_wrong_key_is_a_crc_error() -> None:
    """A token decoded with another meter's key fails its CRC."""
    other = DecoderKey.from_hex("E94023262E9993C2")
    with pytest.raises(CrcError):
        decode(CTSA01_TOKEN, other)


def test_mistyped_digit_is_caught() -> None:
    """Changing any single digit of a real token is detected (CRC or range), never accepted."""
    for position in range(20):
        for digit in "0123456789":
            if digit == CTSA01_TOKEN[position]:
                continue
            typo = CTSA01_TOKEN[:position] + digit + CTSA01_TOKEN[position + 1 :]
            try:
                decoded = decode(typo, CTSA01_KEY)
            except StsError:
                continue
            # A 16-bit CRC lets about 1 in 65536 random blocks through; none does here.
            pytest.fail(f"typo {typo} decoded as {decoded}")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1234",
        "2371610050118319419",  # 19 digits
        "237161005011831941970",  # 21 digits
        "2371610050118319419x",
        "73786976294838206464",  # 2**66
        "99999999999999999999",
        "".join(chr(0xFF10 + int(d)) for d in "23716100501183194197"),  # full-width digits
    ],
)
def test_malformed_token_text(text: str) -> None:
    """Text that is not 20 ASCII digits below 2^66 is a TokenFormatError."""
    with pytest.raises(TokenFormatError):
        parse_token(text)


def test_largest_token_number_formats() -> None:
    """2^66 - 1 is the largest token; it formats to 20 digits and parses back."""
    assert format_token((1 << 66) - 1) == "73786976294838206463"
    assert parse_token("73786976294838206463") == (1 << 66) - 1
    with pytest.raises(TokenFormatError):
        format_token(1 << 66)


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=30) | st.from_regex(r"\A[0-9]{20}\Z"), key=keys)
def test_decode_raises_only_sts_errors(text: str, key: DecoderKey) -> None:
    """Arbitrary input either decodes or raises StsError: nothing else escapes."""
    with contextlib.suppress(StsError):
        decode(text, key)


def test_class3_is_unsupported() -> None:
    """Class 3 is reserved: decoding it is an UnsupportedTokenError (an StsError)."""
    text = format_token(join_class(3, 0))
    with pytest.raises(StsError, match="class 3"):
        decode(text, CTSA01_KEY)


def test_encrypted_classes_need_a_key() -> None:
    """Class 0/2 tokens cannot be built or read without a decoder key."""
    with pytest.raises(KeyFormatError):
        encode(ClearTamperCondition(tid=1), None)
    with pytest.raises(KeyFormatError):
        decode(CTSA01_TOKEN, None)


@pytest.mark.parametrize(
    ("hex_key", "ea"),
    [("00" * 7, None), ("00" * 8, 11), ("00" * 16, 7), ("00" * 12, None), ("zz" * 8, None)],
)
def test_bad_decoder_keys(hex_key: str, ea: int | None) -> None:
    """Keys of the wrong length for their algorithm, or not hex, are KeyFormatErrors."""
    with pytest.raises(KeyFormatError):
        DecoderKey.from_hex(hex_key, ea=ea)


def test_decoder_key_never_shows_the_key() -> None:
    """repr/str of a key show the algorithm and a fingerprint, not the key."""
    text = repr(CTSA01_KEY) + str(CTSA01_KEY)
    assert "E653" not in text.upper()
    assert "EA07" in text
    assert CTSA01_KEY.fingerprint in text


@pytest.mark.parametrize(
    "build",
    [
        lambda: TransferCredit(utility=Utility.WATER, tid=1 << 24, amount_field=0),
        lambda: TransferCredit(utility=Utility.WATER, tid=0, amount_field=1 << 16),
        lambda: ClearCredit(tid=0, rnd=16),
        lambda: ExtendedSet(tid=0, index=64, value=0),
        lambda: KeyChange1(kenho=0, krn=16, ro=0, res=0, kt=2, key_bits=0),
        lambda: KeyChange2(kenlo=0, ti=256, key_bits=0),
        lambda: InitiateMeterTest.build(1 << 36, 0, subclass=0),
        lambda: InitiateMeterTest.build(0, 1 << 16, subclass=1),
    ],
)
def test_fields_outside_their_width(build: object) -> None:
    """Field values that do not fit their bit width raise FieldError."""
    assert callable(build)
    with pytest.raises(FieldError):
        build()


def test_class1_control_and_manufacturer_split() -> None:
    """Subclass 0 splits 36+8 bits, subclass 1 28+16 bits, subclass 2 has no split."""
    zero = InitiateMeterTest.build(0xFFFFFFFFF, 0x12, subclass=0)
    assert (zero.data, zero.control, zero.manufacturer_code) == (0xFFFFFFFFF12, 0xFFFFFFFFF, 0x12)
    one = InitiateMeterTest.build(0xFFFFFFF, 0x1234, subclass=1)
    assert (one.data, one.control, one.manufacturer_code) == (0xFFFFFFF1234, 0xFFFFFFF, 0x1234)
    two = InitiateMeterTest(subclass=2, data=5)
    assert (two.control, two.manufacturer_code) == (None, None)
    assert two.token_class == TokenClass.METER_TEST


new_keys = st.one_of(st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16))


@settings(max_examples=200, deadline=None)
@given(
    new_key=new_keys,
    krn=st.integers(1, 9),
    kt=st.sampled_from([KeyType.DDTK, KeyType.DUTK, KeyType.DCTK]),
    ti=st.integers(0, 99),
    ken=st.integers(0, 255),
    ro=st.booleans(),
    sgc=st.none() | st.integers(0, 999_999).map(lambda n: f"{n:06d}"),
    order=st.randoms(),
)
def test_key_change_sets_reassemble_in_any_order(
    new_key: bytes,
    krn: int,
    kt: KeyType,
    ti: int,
    ken: int,
    ro: bool,
    sgc: str | None,
    order: object,
) -> None:
    """2-, 3- and 4-token sets give back the change from their sections in any order."""
    if len(new_key) == 16 and sgc is None:
        sgc = "123456"
    change = KeyChange(new_key=new_key, krn=krn, kt=kt, ti=ti, ken=ken, ro=ro, sgc=sgc)
    sections = list(change.sections())
    assert (
        len(sections) == change.set_size == (4 if len(new_key) == 16 else 2 if sgc is None else 3)
    )
    assert isinstance(order, random.Random)
    order.shuffle(sections)
    ea = 11 if len(new_key) == 16 else 7
    assembled = KeyChange.assemble(sections, ea=ea)
    assert assembled == change
    assert KeyChange.assemble(sections[:-1], ea=ea) is None


def test_kct_pair_from_spec() -> None:
    """SPEC §6 example (POS07-CTSA05-1): the plain blocks of a 2-token set.

    New key 7F78CDD220BE39B8, KEN FF, KRN 1, KT 2, TI 02 give 3F127F78CDD2 + CRC C8CC and
    4F0220BE39B8 + CRC 36F9.
    """
    change = KeyChange(
        new_key=bytes.fromhex("7F78CDD220BE39B8"), krn=1, kt=KeyType.DUTK, ti=2, ken=0xFF
    )
    first, second = change.sections()
    assert plain_block(first) == 0x3F127F78CDD2C8CC
    assert plain_block(second) == 0x4F0220BE39B836F9


def test_key_change_hides_the_key() -> None:
    """A KeyChange's repr shows the key size, never the key."""
    change = KeyChange(new_key=bytes.fromhex("7F78CDD220BE39B8"), krn=1, kt=KeyType.DUTK, ti=2)
    assert "7F78" not in repr(change).upper()
    assert "64-bit" in repr(change)


def test_ea11_key_change_needs_sgc() -> None:
    """A 4-token (EA11) set always carries the SGC; building one without it is refused."""
    with pytest.raises(StsError, match="SGC"):
        KeyChange(new_key=bytes(16), krn=1, kt=KeyType.DUTK, ti=1)


def test_ea07_third_section_padding_checked() -> None:
    """An EA07 3rd section whose 20 low bits are not zero does not belong to a set."""
    change = KeyChange(new_key=bytes(8), krn=1, kt=KeyType.DUTK, ti=1, sgc="201457")
    first, second, _third = change.sections()
    with pytest.raises(FieldError):
        KeyChange.assemble([first, second, KeyChange3(high=0x031, key_bits=1)], ea=7)
