"""The session-store contract, as a reusable suite.

Subclass :class:`StoreContract` (the name does not start with ``Test``, so it is collected
only through subclasses) and provide two fixtures: ``store`` (a fresh, empty store) and
``advance`` (an async callable that lets ``seconds`` pass for that store: a fake clock for
the memory twin, a real sleep for Redis). TTLs here are short so a real sleep is cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ussd_menus.session import SessionState, SessionStore

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

    @staticmethod
    async def _enter(store: SessionStore, key: str) -> None:
        async with store.lock(key):
            pass
