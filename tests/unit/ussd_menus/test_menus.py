"""The Vendgate menus walked hop by hop with a fake core (expected screens written by hand)."""

from __future__ import annotations

import pytest

from tests.unit.ussd_menus.fakes import DEMO_METER, FakeCore, Walker, at_event, drive
from ussd_menus.actions import (
    ConfirmCustomer,
    LastTokens,
    LoadProfile,
    QuoteAmount,
    ReportFault,
    ResendToken,
    SavedMeter,
    SaveMeter,
    SetLanguage,
    StartPurchase,
)
from ussd_menus.engine import Engine
from ussd_menus.menus import build_engine

BACK = "0. Back 00. Home"
MAIN = (
    "Vendgate\n1. Buy electricity\n2. My last tokens\n3. Balance and debt\n"
    "4. My meters\n5. Report a fault\n6. Language"
)
PICK = "Choose a meter or enter the meter number:"


@pytest.fixture
def engine() -> Engine:
    """The engine on the real Vendgate menu."""
    return build_engine()


@pytest.fixture
def core() -> FakeCore:
    """A fake core with the demo meter and no saved meters."""
    return FakeCore()


def test_first_hop_loads_the_profile_then_shows_the_main_menu(
    engine: Engine, core: FakeCore
) -> None:
    """The first hop asks for the phone's profile, then shows the main menu (a CON screen)."""
    reply = Walker(engine, core).open()
    assert core.calls == [LoadProfile(msisdn="+254700000001")]
    assert reply.reply.text == MAIN
    assert reply.reply.end is False


def test_full_buy_walk(engine: Engine, core: FakeCore) -> None:
    """Buy: meter -> name/address -> amount -> quote -> details -> pay -> END.

    The core is asked exactly once for each step and the purchase is keyed by the session.
    """
    walk = Walker(engine, core)
    walk.open()
    assert walk.send("1").reply.text == f"{PICK}\n{BACK}"
    reply = walk.send(DEMO_METER)
    assert reply.reply.text == f"Meter {DEMO_METER}\nAmina Njeri, 12 Moi Avenue\n1. Confirm\n{BACK}"
    assert walk.send("1").reply.text == f"Enter the amount (minimum 10):\n{BACK}"
    assert walk.send("100").reply.text == f"100 buys 52.8 kWh\n1. Pay\n2. Details\n{BACK}"
    reply = walk.send("2")
    assert reply.reply.text == f"VAT 13.79\nCharges 5\nDebt recovered 0\n1. Pay\n{BACK}"
    reply = walk.send("1")
    assert reply.reply.text == (
        "Approve the payment of 100 on your phone. Your token will come by SMS."
    )
    assert reply.reply.end is True
    assert core.calls[1:] == [
        ConfirmCustomer(meter=DEMO_METER),
        QuoteAmount(meter=DEMO_METER, amount=10000),
        StartPurchase(
            meter=DEMO_METER,
            amount=10000,
            msisdn="+254700000001",
            idempotency_key="ussd:africastalking:ATUid_1:buy",
        ),
    ]


def test_token_ready_in_time_is_shown_on_the_final_screen(engine: Engine, core: FakeCore) -> None:
    """When the vend is ready while the session waits, the END screen shows the token.

    It is shown in 4-digit groups, as the customer keys it in (TOKEN is 1234...7890).
    """
    core.token_ready = True
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("1", DEMO_METER, "1", "100", "1")
    assert reply.reply.end is True
    assert reply.reply.text == (
        f"Paid 100. Meter {DEMO_METER}: 52.8 units.\n"
        "Token:\n1234 5678 9012 3456 7890\nAlso sent by SMS."
    )


def test_retried_pay_hop_never_pays_twice(engine: Engine, core: FakeCore) -> None:
    """The pay hop sent again (same cumulative text) gets the cached END and starts nothing.

    So does any later hop of the ended session.
    """
    walk = Walker(engine, core)
    walk.open()
    first = walk.send("1", DEMO_METER, "1", "100", "1")
    calls = len(core.calls)
    again = drive(engine, walk.session, at_event("ATUid_1", f"1*{DEMO_METER}*1*100*1"), core)
    assert again.duplicate is True
    assert again.reply == first.reply
    later = drive(engine, walk.session, at_event("ATUid_1", f"1*{DEMO_METER}*1*100*1*1"), core)
    assert later.reply.text == first.reply.text
    assert len(core.calls) == calls
    assert sum(isinstance(c, StartPurchase) for c in core.calls) == 1


def test_prefilled_route_runs_on_the_first_hop(engine: Engine, core: FakeCore) -> None:
    """Digits dialled after the code (AT first-hop text ``1*<meter>``) reach the confirm screen.

    The core is asked for the profile and then the customer, in that one hop.
    """
    walk = Walker(engine, core)
    reply = drive(engine, walk.session, at_event("ATUid_1", f"1*{DEMO_METER}"), core)
    assert reply.reply.text.startswith(f"Meter {DEMO_METER}\nAmina Njeri")
    assert core.calls == [LoadProfile(msisdn="+254700000001"), ConfirmCustomer(meter=DEMO_METER)]
    assert reply.session.path == ("1", DEMO_METER)


def test_invalid_meter_number_reprompts_with_the_reason(engine: Engine, core: FakeCore) -> None:
    """A typed number that is not 11/13/18 digits re-prompts; the core is not asked."""
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("1", "123")
    assert reply.reply.text == f"A meter number has 11 or 13 digits.\n{PICK}\n{BACK}"
    assert not any(isinstance(c, ConfirmCustomer) for c in core.calls)


def test_unknown_meter_reprompts_with_the_refusal(engine: Engine, core: FakeCore) -> None:
    """The core's meter-unknown refusal becomes the notice on the same screen."""
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("1", "11111111115")
    assert reply.reply.text == f"This meter is not registered.\n{PICK}\n{BACK}"


def test_amount_below_minimum_reprompts(engine: Engine, core: FakeCore) -> None:
    """An amount under the tariff minimum (10) re-prompts with the minimum; no quote asked."""
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("1", DEMO_METER, "1", "5")
    assert reply.reply.text == (
        f"The minimum amount is 10.\nEnter the amount (minimum 10):\n{BACK}"
    )
    assert not any(isinstance(c, QuoteAmount) for c in core.calls)


def test_refused_purchase_ends_with_the_message(engine: Engine) -> None:
    """A refused payment/vend ends the session with the refusal in the user's language."""
    core = FakeCore(refuse={StartPurchase: "vendor-float-exhausted"})
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("1", DEMO_METER, "1", "100", "1")
    assert reply.reply.text == (
        "Sales are paused. Please try again later.\nSorry, we could not complete your request."
    )
    assert reply.reply.end is True


def test_language_switch_to_arabic(engine: Engine, core: FakeCore) -> None:
    """6 then 4 saves Arabic and shows the main menu in Arabic, path reset."""
    walk = Walker(engine, core)
    walk.open()
    walk.send("6")
    reply = walk.send("4")
    assert SetLanguage(msisdn="+254700000001", language="ar") in core.calls
    assert reply.reply.text.splitlines()[:2] == ["Vendgate", "1. شراء كهرباء"]
    assert reply.session.path == ()


def test_profile_language_is_used_from_the_first_screen(engine: Engine) -> None:
    """A phone whose profile says French gets French screens from the first hop."""
    reply = Walker(engine, FakeCore(language="fr")).open()
    assert reply.reply.text.splitlines()[1] == "1. Acheter de l'électricité"


def test_saved_meters_are_offered_in_buy(engine: Engine) -> None:
    """Saved meters are listed by name; picking one confirms that meter."""
    core = FakeCore(meters=[SavedMeter(number=DEMO_METER, name="Home")])
    walk = Walker(engine, core)
    walk.open()
    assert walk.send("1").reply.text == f"{PICK}\n1. Home\n{BACK}"
    walk.send("1")
    assert core.calls[-1] == ConfirmCustomer(meter=DEMO_METER)


def test_save_a_meter(engine: Engine, core: FakeCore) -> None:
    """My meters -> Add: number, then name -> saved (END)."""
    walk = Walker(engine, core)
    walk.open()
    assert walk.send("4").reply.text == (
        f"My meters\n1. Add a meter\n2. Rename a meter\n3. Remove a meter\n{BACK}"
    )
    walk.send("1", DEMO_METER)
    reply = walk.send("Home")
    assert core.calls[-1] == SaveMeter(msisdn="+254700000001", meter=DEMO_METER, name="Home")
    assert reply.reply.text == f"Meter {DEMO_METER} saved as Home."


def test_remove_with_no_saved_meter_says_so(engine: Engine, core: FakeCore) -> None:
    """Remove with an empty list stays on My meters with the reason."""
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("4", "3")
    assert reply.reply.text.splitlines()[0] == "You have no saved meters."


def test_resend_last_token(engine: Engine, core: FakeCore) -> None:
    """My last tokens: pick the meter, pick a token -> resent, shown in groups of four."""
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("2", DEMO_METER)
    assert LastTokens(meter=DEMO_METER) in core.calls
    assert reply.reply.text == f"Choose a token to resend by SMS:\n1. 2025-03-01 100 52.8\n{BACK}"
    reply = walk.send("1")
    assert core.calls[-1] == ResendToken(meter=DEMO_METER, vend_id=7, msisdn="+254700000001")
    assert reply.reply.text == (
        f"Token for meter {DEMO_METER}:\n1234 5678 9012 3456 7890\nAlso sent by SMS."
    )


def test_balance(engine: Engine, core: FakeCore) -> None:
    """Balance and debt: the debt and the last purchase, as an END screen."""
    walk = Walker(engine, core)
    walk.open()
    reply = walk.send("3", DEMO_METER)
    assert reply.reply.text == (
        f"Meter {DEMO_METER}\nDebt: 25\nLast purchase 2025-03-01:\n100, 52.8 kWh"
    )
    assert reply.reply.end is True


def test_report_a_fault(engine: Engine, core: FakeCore) -> None:
    """Report a fault: meter, kind -> a maintenance request with its reference."""
    walk = Walker(engine, core)
    walk.open()
    walk.send("5", DEMO_METER)
    reply = walk.send("2")
    assert core.calls[-1] == ReportFault(
        msisdn="+254700000001", meter=DEMO_METER, fault="token-rejected"
    )
    assert reply.reply.text == "Fault reported. Reference FLT-42. A technician will contact you."
