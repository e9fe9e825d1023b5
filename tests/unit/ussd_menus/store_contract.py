"""The session-store contract, as a reusable suite.

Subclass :class:`StoreContract` (the name does not start with ``Test``, so it is collected
only through subclasses) and provide two fixtures: ``store`` (a fresh, empty store) and
``advance`` (an async callable that lets ``seconds`` pass for that store: a fake clock for
the memory twin, a real sleep for Redis). TTLs here are short so a real sleep is cheap.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import pytest

from ussd_menus.session import Held, SessionState, SessionStore

Advance = Callable[[float], Awaitable[None]]
TTL = 0.3


def _state(screen: str = "main", **data: str) -> SessionState:
    return SessionState(
        provider="hubtel", session_id="s-1", msisdn="+233244123456", screen=screen, data=data
    )


class StoreContract:
    """Behaviour every SessionStore implementation must have."""

    async def test_missing_key_reads_none(self, store: SessionStore) -> None:
        """An unknown session reads as None."""
        assert await store.get("hubtel:nope") is None

    async def test_set_then_get_round_trips(self, store: SessionStore) -> None:
        """What is stored comes back equal, data included (Arabic and lists too)."""
        state = _state(lang="ar", who="أمينة").with_data(meters=[["01234567897", "Home"]])
        await store.set("hubtel:s-1", state, TTL)
        assert await store.get("hubtel:s-1") == state

    async def test_set_replaces(self, store: SessionStore) -> None:
        """A second set replaces the first."""
        await store.set("k", _state("main"), TTL)
        await store.set("k", _state("buy_meter"), TTL)
        got = await store.get("k")
        assert got is not None
        assert got.screen == "buy_meter"

    async def test_delete_forgets_and_tolerates_missing(self, store: SessionStore) -> None:
        """delete() removes the session; deleting again is not an error."""
        await store.set("k", _state(), TTL)
        await store.delete("k")
        await store.delete("k")
        assert await store.get("k") is None

    async def test_expires_after_ttl(self, store: SessionStore, advance: Advance) -> None:
        """A session is there before its TTL and gone after it."""
        await store.set("k", _state(), TTL)
        assert await store.get("k") is not None
        await advance(TTL + 0.2)
        assert await store.get("k") is None

    async def test_set_renews_the_ttl(self, store: SessionStore, advance: Advance) -> None:
        """Each hop's set() starts the TTL again."""
        await store.set("k", _state(), TTL)
        await advance(TTL * 0.6)
        await store.set("k", _state("buy_meter"), TTL)
        await advance(TTL * 0.6)
        assert await store.get("k") is not None

    async def test_lock_serialises_one_session(self, store: SessionStore) -> None:
        """While one hop holds a session's lock, a second waits until it is released."""
        order: list[str] = []
        first_in = asyncio.Event()
        release = asyncio.Event()

        async def first() -> None:
            async with store.lock("k"):
                order.append("first in")
                first_in.set()
                await release.wait()
                order.append("first out")

        async def second() -> None:
            await first_in.wait()
            async with store.lock("k"):
                order.append("second in")

        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await first_in.wait()
        await asyncio.sleep(0.05)
        assert order == ["first in"]
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=2)
        assert order == ["first in", "first out", "second in"]

    async def test_locks_of_different_sessions_are_independent(self, store: SessionStore) -> None:
        """Holding one session's lock does not block another session."""
        async with store.lock("a"):
            await asyncio.wait_for(self._enter(store, "b"), timeout=1)

    async def test_lock_is_released_on_error(self, store: SessionStore) -> None:
        """A hop that fails inside the lock releases it."""
        try:
            async with store.lock("k"):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        await asyncio.wait_for(self._enter(store, "k"), timeout=1)

    async def test_hold_reads_the_session_and_the_peeked_key(self, store: SessionStore) -> None:
        """hold() gives the stored session and the peeked key's value; absent ones are None."""
        await store.set("k", _state("buy_meter"), TTL)
        await store.set("resume:+233244123456", _state("balance"), TTL)
        async with store.hold("k", peek="resume:+233244123456") as held:
            assert held.state == _state("buy_meter")
            assert held.peeked == _state("balance")
        async with store.hold("new", peek="resume:nobody") as held:
            assert held.state is None
            assert held.peeked is None
        async with store.hold("k") as held:  # nothing to peek at
            assert held.peeked is None

    async def test_hold_writes_what_was_staged_when_the_block_ends(
        self, store: SessionStore
    ) -> None:
        """Staged sets and deletes (of any key) are made at the end, the last one per key wins."""
        await store.set("gone", _state("main"), TTL)
        async with store.hold("k") as held:
            held.set("k", _state("main"), TTL)
            held.set("k", _state("buy_amount"), TTL)
            held.set("other", _state("balance"), TTL)
            held.delete("gone")
            assert await store.get("k") is None  # staged, not yet written
        assert await store.get("k") == _state("buy_amount")
        assert await store.get("other") == _state("balance")
        assert await store.get("gone") is None
        async with store.hold("k") as held:
            held.set("k", _state("main"), TTL)
            held.delete("k")
        assert await store.get("k") is None

    async def test_hold_discards_staged_writes_on_error_and_unlocks(
        self, store: SessionStore
    ) -> None:
        """A hop that fails writes nothing it staged, and the session can be held again."""
        await store.set("k", _state("main"), TTL)
        try:
            async with store.hold("k") as held:
                held.set("k", _state("buy_meter"), TTL)
                held.delete("k")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert await store.get("k") == _state("main")
        async with asyncio.timeout(1), store.hold("k") as held:
            assert held.state == _state("main")

    async def test_staged_writes_keep_their_ttl(
        self, store: SessionStore, advance: Advance
    ) -> None:
        """A session written by hold() expires after the TTL it was staged with."""
        async with store.hold("k") as held:
            held.set("k", _state(), TTL)
        assert await store.get("k") is not None
        await advance(TTL + 0.2)
        assert await store.get("k") is None

    async def test_hold_and_lock_exclude_each_other(self, store: SessionStore) -> None:
        """A hop in hold() and one in lock() of the same session run one after the other."""
        order: list[str] = []
        held_in = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with store.hold("k") as held:
                order.append("hold in")
                held_in.set()
                await release.wait()
                held.set("k", _state("buy_meter"), TTL)
                order.append("hold out")

        async def locker() -> None:
            await held_in.wait()
            async with store.lock("k"):
                order.append("lock in")
                got = await store.get("k")
                order.append(got.screen if got else "none")

        tasks = [asyncio.create_task(holder()), asyncio.create_task(locker())]
        await held_in.wait()
        await asyncio.sleep(0.05)
        assert order == ["hold in"]
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=2)
        assert order == ["hold in", "hold out", "lock in", "buy_meter"]

    def test_staging_refuses_a_ttl_that_cannot_expire(self) -> None:
        """Held.set refuses a TTL that is not a positive finite number of seconds."""
        held = Held(None)
        for ttl in (0.0, -1.0, math.inf, math.nan):
            with pytest.raises(ValueError, match="ttl"):
                held.set("k", _state(), ttl)
        assert held.writes == {}

    @staticmethod
    async def _enter(store: SessionStore, key: str) -> None:
        async with store.lock(key):
            pass
