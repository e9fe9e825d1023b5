"""One owner at a time across replicas: a PostgreSQL advisory lock held on its own connection.

An SMSC account accepts a fixed number of binds and our SMPP sender must own the bind it
submits on, so of all the gateway replicas configured with the same SMPP binds exactly one
runs them (and the outbox dispatcher that submits through them). Each replica keeps a
dedicated connection (outside the pool) asking ``pg_try_advisory_lock(key)`` every
``retry_s``; the one that gets it calls ``on_acquired`` and then checks its connection every
``check_s``. The lock is the session's: it is released when the owner unlocks, closes, or
dies — PostgreSQL ends the session when its socket closes, so a SIGKILLed owner frees it at
once and a follower takes over within ``retry_s``. An owner whose connection fails calls
``on_lost`` first (stops its binds), then competes again.

Between the owner's connection failing and its check noticing (up to ``check_s``) the
database may already have handed the lock to another replica: two replicas may then both be
bound for that moment. The outbox stays exactly-once meanwhile (rows are claimed with
``SKIP LOCKED`` and a lease); an SMSC may refuse the extra bind, which the link retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
from sqlalchemy.engine import make_url

__all__ = ["SMPP_BINDS_LOCK", "Leadership", "asyncpg_dsn", "lock_key"]

_log = logging.getLogger(__name__)
_CONNECT_TIMEOUT_S: Final = 5.0
_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name`` (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SMPP_BINDS_LOCK: Final = lock_key("vendgate:smpp-binds")


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL ``postgresql+asyncpg://...`` as a DSN asyncpg connects with."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """Call ``on_acquired`` when this process becomes the owner, ``on_lost`` when it stops.

    Args:
        dsn: The PostgreSQL DSN (see :func:`asyncpg_dsn`).
        key: The advisory-lock key; every competing process uses the same one.
        on_acquired: Start owning (bind).
        on_lost: Stop owning (unbind); also called on :meth:`stop` while owner.
        retry_s: Seconds between attempts while another process owns the lock.
        check_s: Seconds between checks of the owner's connection.
    """

    def __init__(
        self,
        dsn: str,
        key: int,
        *,
        on_acquired: Callable[[], Awaitable[None]],
        on_lost: Callable[[], Awaitable[None]],
        retry_s: float = 2.0,
        check_s: float = 1.0,
    ) -> None:
        self._dsn = dsn
        self._key = key
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._retry_s = retry_s
        self._check_s = check_s
        self._task: asyncio.Task[None] | None = None
        self.leader = False  #: whether this process owns the lock now

    def start(self) -> None:
        """Start competing in the background (inside a running event loop)."""
        if self._task is not None:
            raise RuntimeError("leadership is already running")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        """Stop competing; an owner stops owning (``on_lost``) and releases the lock."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._term()
            except _ERRORS as exc:
                _log.warning("leadership connection failed: %s", type(exc).__name__)
            await asyncio.sleep(self._retry_s)

    async def _term(self) -> None:
        """One connection: wait for the lock, own it while the connection lives."""
        connection: Any = await asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT_S)
        try:
            while True:
                if await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key):
                    break
                await asyncio.sleep(self._retry_s)
            self.leader = True
            _log.info("leadership acquired (advisory lock %d)", self._key)
            try:
                await self._on_acquired()
                while True:
                    await asyncio.sleep(self._check_s)
                    await connection.fetchval("SELECT 1")
            finally:
                self.leader = False
                _log.info("leadership released (advisory lock %d)", self._key)
                await asyncio.shield(self._on_lost())
        finally:
            with contextlib.suppress(*_ERRORS):
                await asyncio.shield(connection.close(timeout=_CONNECT_TIMEOUT_S))
