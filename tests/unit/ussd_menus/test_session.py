"""Session state JSON form, the memory store (via the shared contract), and engine properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.ussd_menus.fakes import DEMO_METER, FakeCore, at_event, drive
from tests.unit.ussd_menus.store_contract import Advance, StoreContract
from ussd_menus.actions import SavedMeter, StartPurchase
from ussd_menus.charset import fits
from ussd_menus.menus import build_engine
from ussd_menus.session import MemorySessionStore, SessionState


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at t=1000 s."""
    return FakeClock()


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self, clock: FakeClock) -> MemorySessionStore:
        """A fresh memory store on the fake clock."""
        return MemorySessionStore(clock)

    @pytest.fixture
    def advance(self, clock: FakeClock) -> Advance:
        """Time passes by moving the fake clock."""

        async def advance(seconds: float) -> None:
            clock.now += seconds

        return advance


async def test_memory_store_rejects_a_non_positive_ttl(clock: FakeClock) -> None:
    """TTL 0 would store an already-expired session: ValueError."""
    with pytest.raises(ValueError, match="ttl"):
        await MemorySessionStore(clock).set(
            "k", SessionState(provider="p", session_id="s", msisdn="+1"), 0
        )


def test_session_state_json_round_trip() -> None:
    """to_json/from_json keep every field, tuples and nested data included."""
    state = SessionState(
        provider="hubtel",
        session_id="s-1",
        msisdn="+233244123456",
        screen="buy_amount",
        stack=("main", "buy_meter"),
        path=("1", DEMO_METER),
        seen=("1", DEMO_METER),
        last_hop="#3",
        reply_text="Enter",
        data={"lang": "ar", "meters": [[DEMO_METER, "Home"]], "min_units": 10, "max_units": None},
    )
    text = state.to_json()
    assert SessionState.from_json(text) == state
    assert '"screen":"buy_amount"' in text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"provider": "p"}',
        '{"x": 1}',
        "{",
        '{"provider":"p","session_id":1,"msisdn":"m"}',
    ],
)
def test_from_json_rejects_what_is_not_a_session(text: str) -> None:
    """Garbage in the store is a ValueError, not a half-built state."""
    with pytest.raises(ValueError, match="session"):
        SessionState.from_json(text)


_INPUTS = st.lists(
    st.sampled_from(
        [
            "0",
            "00",
            "98",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "9",
            DEMO_METER,
            "11111111115",
            "100",
            "Home",
            "",
        ]
    )
    | st.text(max_size=6),
    max_size=14,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inputs=_INPUTS,
    saved=st.booleans(),
    refuse=st.sampled_from([None, "meter-blocked", "unavailable"]),
)
def test_any_input_sequence_never_raises_and_always_fits(
    inputs: list[str], saved: bool, refuse: str | None
) -> None:
    """Any inputs, hop by hop, never make step() raise; replies fit; one purchase at most.

    Played as AT (cumulative), with or without saved meters and refusals; the state goes
    through JSON between hops and an ended session stays ended.
    """
    meters = [SavedMeter(number=DEMO_METER, name="Home")] if saved else []
    core = FakeCore(meters=meters, refuse={StartPurchase: refuse} if refuse else {})
    engine = build_engine()
    session = SessionState(provider="africastalking", session_id="h", msisdn="+254700000001")
    reply = drive(engine, session, at_event("h", ""), core)
    ended = None
    for n in range(1, len(inputs) + 1):
        text = "*".join(inputs[:n])
        reply = drive(
            engine, SessionState.from_json(reply.session.to_json()), at_event("h", text), core
        )
        assert reply.reply.text
        assert fits(reply.reply.text), reply.reply.text
        if ended is not None:
            assert reply.reply == ended
        elif reply.reply.end:
            ended = reply.reply
    assert sum(isinstance(c, StartPurchase) for c in core.calls) <= 1
