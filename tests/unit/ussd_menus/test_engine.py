"""The pure engine on a small menu written here: routes, back/home/more, re-prompts, dedupe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from ussd_menus.actions import Balance, Done, GetBalance, Result
from ussd_menus.engine import Engine, EngineError, NeedAction, Reply, hop_key
from ussd_menus.model import UssdEvent
from ussd_menus.screens import Ask, Choice, Field, Go, Item, Menu, Outcome, Screen, Stay
from ussd_menus.session import SessionState


def _text(language: str, key: str, params: Mapping[str, str]) -> str:
    text = key.format_map(dict(params))
    return text if language == "en" else f"{language}:{text}"


def _digits(text: str, session: SessionState) -> str | Stay:
    del session
    return text if text.isdigit() else Stay("Digits only")


def _on_balance(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, Balance):
        return Go("done", data={"picked": str(result.debt)})
    return Stay("Failed")


SCREENS = (
    Screen(
        name="home",
        prompt="Home",
        choices=(
            Choice("1", "A", Go("a")),
            Choice("2", "List", Go("list")),
            Choice("3", "Balance", Ask(GetBalance(meter="m"))),
        ),
        on_result=_on_balance,
    ),
    Screen(
        name="a",
        prompt="A",
        choices=(Choice("2", "To B", Go("b")), Choice("3", "To C", Go("c"))),
    ),
    Screen(name="b", prompt="B", field=Field(_digits, lambda s, v: Go("done", data={"picked": v}))),
    Screen(name="c", prompt="C"),
    Screen(
        name="list",
        prompt="Pick",
        items=lambda s: [Item(str(n), "Item number {n}", {"n": str(n)}) for n in range(1, 31)],
        on_item=lambda s, v: Go("done", data={"picked": v}),
    ),
    Screen(name="done", prompt="Done {picked}", end=True),
    Screen(name="failed", prompt="Failed", end=True),
)
MENU = Menu(
    screens={s.name: s for s in SCREENS},
    root="home",
    text=_text,
    invalid="Invalid choice",
    back="0 Back",
    back_short="0 Back",
    more="More",
)


def _new() -> SessionState:
    return SessionState(provider="test", session_id="s1", msisdn="+254700000001")


def _event(route: tuple[str, ...], hop: int | None = None) -> UssdEvent:
    return UssdEvent(
        provider="test",
        session_id="s1",
        msisdn="+254700000001",
        service_code="*384#",
        network="",
        input=route[-1] if route else "",
        route=route,
        is_new=not route,
        hop_index=hop,
    )


def _reply(step: object) -> Reply:
    assert isinstance(step, Reply)
    return step


def _cumulative(engine: Engine, *inputs: str) -> Reply:
    """Play hops as AT does: each hop's route is every input so far."""
    reply = _reply(engine.step(_new(), _event(())))
    for n in range(1, len(inputs) + 1):
        reply = _reply(engine.step(reply.session, _event(inputs[:n])))
    return reply


def _latest(engine: Engine, *inputs: str) -> Reply:
    """Play hops as Hubtel does: the codec appends each latest input to the stored route."""
    reply = _reply(engine.step(_new(), _event((), hop=1)))
    for n, text in enumerate(inputs, start=2):
        route = (*reply.session.seen, text)
        reply = _reply(engine.step(reply.session, _event(route, hop=n)))
    return reply


@pytest.fixture
def engine() -> Engine:
    """An engine on the small menu above."""
    return Engine(MENU)


def test_first_hop_shows_the_root_without_a_back_line(engine: Engine) -> None:
    """A new session lands on the root; the root has no ``0 Back`` footer."""
    reply = _reply(engine.step(_new(), _event(())))
    assert reply.reply.text == "Home\n1. A\n2. List\n3. Balance"
    assert reply.reply.end is False
    assert reply.session.screen == "home"


def test_cumulative_route_with_back_key_means_one_then_three(engine: Engine) -> None:
    """AT text ``1*2*0*3``: 1 (to A), 2 (to B), 0 (back to A), 3 (to C) -> path (1, 3)."""
    reply = _cumulative(engine, "1", "2", "0", "3")
    assert reply.session.screen == "c"
    assert reply.session.path == ("1", "3")
    assert reply.reply.text == "C\n0 Back"


def test_whole_route_in_one_hop_gives_the_same_result(engine: Engine) -> None:
    """A session that arrives with ``1*2*0*3`` at once (pre-filled) rebuilds the same path."""
    reply = _reply(engine.step(_new(), _event(("1", "2", "0", "3"))))
    assert reply.session.screen == "c"
    assert reply.session.path == ("1", "3")


def test_latest_input_hops_rebuild_the_same_path(engine: Engine) -> None:
    """Latest-input hops 1, 2, 0, 3 end on C with path (1, 3) and seen = all four inputs."""
    reply = _latest(engine, "1", "2", "0", "3")
    assert reply.session.screen == "c"
    assert reply.session.path == ("1", "3")
    assert reply.session.seen == ("1", "2", "0", "3")


def test_home_key_clears_the_path(engine: Engine) -> None:
    """``00`` from two screens deep returns to the root with an empty path and stack."""
    reply = _cumulative(engine, "1", "2", "00")
    assert reply.session.screen == "home"
    assert reply.session.path == ()
    assert reply.session.stack == ()


def test_back_at_the_root_stays_on_the_root(engine: Engine) -> None:
    """``0`` on the root re-shows the root."""
    reply = _cumulative(engine, "0")
    assert reply.session.screen == "home"
    assert reply.reply.text == "Home\n1. A\n2. List\n3. Balance"


def test_invalid_choice_reprompts_with_the_reason_and_keeps_state(engine: Engine) -> None:
    """An unknown key shows the reason above the same screen; screen and path unchanged."""
    reply = _cumulative(engine, "1", "7")
    assert reply.reply.text == "Invalid choice\nA\n2. To B\n3. To C\n0 Back"
    assert reply.session.screen == "a"
    assert reply.session.path == ("1",)


def test_invalid_field_input_reprompts_with_the_validator_reason(engine: Engine) -> None:
    """A field's validator reason is shown once; the next valid input moves on."""
    reply = _cumulative(engine, "1", "2", "x")
    assert reply.reply.text == "Digits only\nB\n0 Back"
    reply = _reply(engine.step(reply.session, _event(("1", "2", "x", "42"))))
    assert reply.reply.text == "Done 42"
    assert reply.reply.end is True


def test_long_list_pages_with_98_and_back(engine: Engine) -> None:
    """30 rows page with ``98`` (numbered on), ``0`` goes back a page, rows pick per page.

    A row of page 2 cannot be picked from page 1; the reason then replaces the prompt, as
    both do not fit with a full page.
    """
    first = _cumulative(engine, "2")
    lines = first.reply.text.splitlines()
    assert lines[0] == "Pick"
    assert lines[1] == "1. Item number 1"
    assert lines[-2:] == ["98. More", "0 Back"]
    last_on_page = int(lines[-3].split(".")[0])
    assert 1 < last_on_page < 30
    second = _cumulative(engine, "2", "98")
    assert (
        second.reply.text.splitlines()[1] == f"{last_on_page + 1}. Item number {last_on_page + 1}"
    )
    assert _cumulative(engine, "2", "98", "0").reply.text == first.reply.text
    picked = _cumulative(engine, "2", "98", str(last_on_page + 1))
    assert picked.reply.text == f"Done {last_on_page + 1}"
    wrong = _cumulative(engine, "2", str(last_on_page + 1))
    assert wrong.reply.text.startswith("Invalid choice\n1. Item number 1")


def test_every_page_fits_the_gsm7_budget(engine: Engine) -> None:
    """Each page of the long list is at most 182 characters (GSM-7)."""
    session = _cumulative(engine, "2").session
    for page in range(len(engine.pages(session))):
        text = engine.render(replace(session, page=page)).text
        assert len(text) <= 182


def test_action_request_then_resume(engine: Engine) -> None:
    """Choice 3 asks for an action and renders nothing; resume() with the result replies."""
    start = _reply(engine.step(_new(), _event(())))
    step = engine.step(start.session, _event(("3",)))
    assert isinstance(step, NeedAction)
    assert step.action == GetBalance(meter="m")
    reply = _reply(engine.resume(step.session, Balance(debt=99, last_date=None)))
    assert reply.reply.text == "Done 99"


def test_retried_hop_returns_cached_reply_and_asks_nothing(engine: Engine) -> None:
    """The same hop (same hop_index) after an action gets the cached reply, no action."""
    start = _reply(engine.step(_new(), _event((), hop=1)))
    step = engine.step(start.session, _event(("3",), hop=2))
    assert isinstance(step, NeedAction)
    done = _reply(engine.resume(step.session, Balance(debt=5, last_date=None)))
    again = engine.step(done.session, _event(("3",), hop=2))
    assert isinstance(again, Reply)
    assert again.duplicate is True
    assert again.reply == done.reply
    assert again.session == done.session


def test_retried_menu_hop_by_route_is_not_applied_twice(engine: Engine) -> None:
    """Without a hop counter, the same cumulative route is a retry: ``1`` is not applied twice."""
    reply = _cumulative(engine, "1")
    again = _reply(engine.step(reply.session, _event(("1",))))
    assert again.duplicate is True
    assert again.session.path == ("1",)


def test_resume_without_a_pending_action_raises(engine: Engine) -> None:
    """resume() when nothing is awaited is a caller bug: EngineError."""
    reply = _reply(engine.step(_new(), _event(())))
    with pytest.raises(EngineError):
        engine.resume(reply.session, Done())


def test_unexpected_result_type_is_handled_by_the_screen(engine: Engine) -> None:
    """A result the screen did not expect re-prompts (the handler decides), never raises."""
    start = _reply(engine.step(_new(), _event(())))
    step = engine.step(start.session, _event(("3",)))
    assert isinstance(step, NeedAction)
    reply = _reply(engine.resume(step.session, Done()))
    assert reply.reply.text.startswith("Failed\nHome")


def test_language_prefixes_every_text(engine: Engine) -> None:
    """Texts are looked up in the session's language (data ``lang``)."""
    session = _new().with_data(lang="fr")
    reply = _reply(engine.step(session, _event(())))
    assert reply.reply.text.splitlines()[0] == "fr:Home"


def test_hop_key_uses_the_counter_else_the_route() -> None:
    """Dedupe key: ``#<hop_index>`` when the provider counts hops, else the route as JSON."""
    assert hop_key(_event(("1", "2"), hop=3)) == "#3"
    assert hop_key(_event(("1", "2"))) == '["1", "2"]'
