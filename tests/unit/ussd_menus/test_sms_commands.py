"""The SMS command language: every command in every language, bad input explained, never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ussd_menus.sms_commands import (
    MAX_AMOUNT_MINOR,
    Balance,
    Buy,
    Command,
    Help,
    Invalid,
    Language,
    ListMeters,
    Redeem,
    Resend,
    parse,
)

METER = "00000000034"  # demo meter 3: "0000000003" + Luhn check digit 4


def arabic(digits: str) -> str:
    """``digits`` written with Arabic-Indic digits, as an Arabic phone keyboard types them."""
    return "".join(chr(0x0660 + int(d)) for d in digits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # BUY in English, French, Swahili, Arabic; case and spacing do not matter.
        (f"BUY {METER} 100", Buy(METER, 10_000)),
        (f"buy   {METER}\t100", Buy(METER, 10_000)),
        (f"Achat {METER} 99.50", Buy(METER, 9_950)),
        (f"ACHETER {METER} 99,5", Buy(METER, 9_950)),
        (f"nunua {METER} 20", Buy(METER, 2_000)),
        (f"شراء {METER} 100", Buy(METER, 10_000)),
        (f"BUY {METER} 100 1234", Buy(METER, 10_000, "1234")),
        # Arabic-Indic digits (U+0660..U+0669) are digits: U+0661 U+0660 U+0660 is 100.
        (f"شراء {arabic(METER)} {arabic('100')}", Buy(METER, 10_000)),
        # TOKEN / BAL with and without a meter.
        ("TOKEN", Resend()),
        (f"token {METER}", Resend(METER)),
        (f"code {METER}", Resend(METER)),
        ("tokeni", Resend()),
        (f"رمز {METER}", Resend(METER)),
        ("BAL", Balance()),
        (f"solde {METER}", Balance(METER)),
        (f"salio {METER}", Balance(METER)),
        ("رصيد", Balance()),
        # METERS, LANG, VOUCHER, HELP.
        ("METERS", ListMeters()),
        ("compteurs", ListMeters()),
        ("mita", ListMeters()),
        ("LANG fr", Language("fr")),
        ("lugha SW", Language("sw")),
        ("langue ar", Language("ar")),
        (f"VOUCHER 1234-5678-9012-3456 {METER}", Redeem("1234567890123456", METER)),
        (f"vocha 1234567890123456 {METER}", Redeem("1234567890123456", METER)),
        ("HELP", Help()),
        ("aide", Help()),
        ("msaada", Help()),
        ("?", Help()),
        ("   ", Help()),
    ],
)
def test_every_command_in_every_language(text: str, expected: Command) -> None:
    """Keywords in en/fr/sw/ar, any case, any spacing; amounts in units become minor units."""
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason", "keyword"),
    [
        ("HELLO", "sms.err.unknown", ""),
        ("BUY", "sms.err.usage", "BUY"),
        (f"BUY {METER}", "sms.err.usage", "BUY"),
        ("BUY 12345 100", "sms.err.meter", "BUY"),
        ("BUY 00000000035 100", "sms.err.meter", "BUY"),  # wrong Luhn check digit
        (f"BUY {METER} 0", "sms.err.amount", "BUY"),
        (f"BUY {METER} 10.001", "sms.err.amount", "BUY"),
        (f"BUY {METER} -5", "sms.err.amount", "BUY"),
        (f"BUY {METER} 1e3", "sms.err.amount", "BUY"),
        (f"BUY {METER} 100 12", "sms.err.pin", "BUY"),
        (f"BUY {METER} 100 1234 extra", "sms.err.usage", "BUY"),
        ("TOKEN 123", "sms.err.meter", "TOKEN"),
        (f"BAL {METER} {METER}", "sms.err.usage", "BAL"),
        ("METERS please", "sms.err.usage", "METERS"),
        ("LANG de", "sms.err.language", "LANG"),
        ("LANG", "sms.err.language", "LANG"),
        (f"VOUCHER 12 {METER}", "sms.err.voucher", "VOUCHER"),
        ("VOUCHER 1234567890123456 1", "sms.err.meter", "VOUCHER"),
        ("VOUCHER 1234567890123456", "sms.err.usage", "VOUCHER"),
        ("BUY " + "9" * 500, "sms.err.unknown", ""),  # longer than three SMS parts
    ],
)
def test_bad_commands_say_why(text: str, reason: str, keyword: str) -> None:
    """A malformed command names the problem (a text key) and the command it was for."""
    assert parse(text) == Invalid(reason, keyword)


def test_amount_cap() -> None:
    """10 million units is the largest amount a command accepts; one minor unit more is not."""
    assert parse(f"BUY {METER} 10000000") == Buy(METER, MAX_AMOUNT_MINOR)
    assert parse(f"BUY {METER} 10000000.01") == Invalid("sms.err.amount", "BUY")


def test_secrets_are_not_in_repr() -> None:
    """Agent and voucher PINs never appear in a command's repr (and so never in logs)."""
    assert "1234" not in repr(parse(f"BUY {METER} 100 1234"))
    assert "5678" not in repr(parse(f"VOUCHER 1234-5678-9012-3456 {METER}"))


@given(st.text(max_size=600))
def test_random_text_never_raises(text: str) -> None:
    """Whatever arrives, parse returns a command."""
    assert isinstance(
        parse(text), Buy | Resend | Balance | ListMeters | Language | Redeem | Help | Invalid
    )


@given(
    st.lists(
        st.sampled_from(["BUY", "TOKEN", "BAL", METER, "100", "1234", "x", arabic("34"), "-", "."]),
        max_size=6,
    ).map(" ".join)
)
def test_command_shaped_text_never_raises(text: str) -> None:
    """Near-miss commands built from real keywords and numbers never raise either."""
    assert isinstance(parse(text), Buy | Resend | Balance | Invalid | Help)
