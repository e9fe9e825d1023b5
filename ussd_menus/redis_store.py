"""The Redis twin of the session store: sessions and per-session locks shared by replicas.

:class:`RedisSessionStore` implements the :class:`~ussd_menus.session.SessionStore` port
exactly like :class:`~ussd_menus.session.MemorySessionStore` (the same contract suite runs
against both), so N gateway replicas behind a load balancer can serve the hops of one USSD
session in any order.

Key layout (under ``prefix``, default ``vendgate:ussd:``), readable by any process or tool:

* ``{prefix}session:{key}`` holds :meth:`SessionState.to_json` text, written with
  ``SET ... PX ttl``: Redis enforces the expiry, so an expired session reads as None.
* ``{prefix}lock:{key}`` is the session's lock: a random token written with
  ``SET ... NX PX lock_timeout`` and released by a Lua compare-and-delete, so a holder only
  ever deletes its own lock. The lease (``lock_timeout``) means a holder that dies (crash,
  SIGKILL, lost network) blocks its session for at most that long.

A hop uses :meth:`RedisSessionStore.hold`: one Lua script takes the lock and reads the session
and the phone's resume point, a second writes what the hop staged and releases the lock, only
if the lock is still ours. Two round trips a hop, where lock, get, get, set, set and release
took six (redis-py spends ~90 us of the gateway's CPU on each).

Exceptions:

* :class:`SessionBusy` (a ``TimeoutError``): the lock was not free within ``lock_wait``.
  The caller answers "busy, try again" rather than queueing hops behind a stuck one.
* :class:`SessionLockLost` (a ``RuntimeError``): a hop outlived its lease, so another hop
  may have run concurrently. Raised when the ``async with`` block ends normally (an error
  raised by the block itself is never masked by it).
* ``ValueError``: the value under a session key is not a stored session (not JSON, wrong
  shape, not UTF-8, or not a string value). This is deliberately an error rather than
  None: silently restarting the session would hide a writer bug or a mixed-version
  deployment, while the caller can still end the session with a polite text.
* Connection and server errors (``redis.exceptions.RedisError``) propagate unchanged.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from ussd_menus.redis_scripts import Script
from ussd_menus.session import Held, SessionState

__all__ = ["RedisSessionStore", "SessionBusy", "SessionLockLost"]

# KEYS[1] the lock, KEYS[2] the session, KEYS[3] (optional) a key to peek at; ARGV[1] our
# token, ARGV[2] the lease in ms. Take the lock if it is free and read both values in the same
# step: false when the lock is taken, else {1, session, peeked} (nil where absent). A value of
# the wrong type releases the lock again and is answered with Redis's own error.
_HOLD = """
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return false
end
local out = {1}
for i = 2, #KEYS do
    local value = redis.pcall('get', KEYS[i])
    if type(value) == 'table' and value.err then
        redis.call('del', KEYS[1])
        return value
    end
    out[i] = value
end
return out
"""

# KEYS[1] the lock, KEYS[2..] the keys written; ARGV[1] our token, then per written key either
# 'set', the value, the TTL in ms, or 'del'. Nothing is written unless the lock still holds our
# token; then the writes and the release happen together. Returns 1, or 0 if the lock was lost.
_WRITE_AND_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
    return 0
end
local a = 2
for i = 2, #KEYS do
    if ARGV[a] == 'set' then
        redis.call('set', KEYS[i], ARGV[a + 1], 'PX', ARGV[a + 2])
        a = a + 3
    else
        redis.call('del', KEYS[i])
        a = a + 1
    end
end
redis.call('del', KEYS[1])
return 1
"""

# KEYS[1] the lock, ARGV[1] our token: delete it only if it still holds our token.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class SessionBusy(TimeoutError):  # noqa: N818 - names what happened, like the domain's errors
    """Another hop held the session's lock for longer than the store's ``lock_wait``."""


class SessionLockLost(RuntimeError):  # noqa: N818 - names what happened, like SessionBusy
    """A hop held the session's lock past its lease; the lock had expired or been taken."""


class RedisSessionStore:
    """Sessions in Redis with Redis-enforced TTLs, and a lock that works across processes.

    Args:
        client: the application's ``redis.asyncio.Redis`` (built and closed by the
            composition root); ``decode_responses`` may be on or off.
        prefix: the namespace of every key this store touches.
        lock_timeout: the lock's lease in seconds; a hop must finish within it. Keep it
            above the providers' hop timeout (USSD aggregators give up after 10-20 s).
        lock_wait: how long ``lock`` waits for a busy session before :class:`SessionBusy`.
        poll_interval: how often a waiting ``lock`` retries, in seconds.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "vendgate:ussd:",
        lock_timeout: float = 30.0,
        lock_wait: float = 5.0,
        poll_interval: float = 0.05,
    ) -> None:
        for name, value in [
            ("lock_timeout", lock_timeout),
            ("lock_wait", lock_wait),
            ("poll_interval", poll_interval),
        ]:
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, not {value}")
        self._client = client
        self._prefix = prefix
        self._lease_ms = _milliseconds(lock_timeout)
        self._lock_wait = lock_wait
        self._poll = poll_interval
        self._release_script = Script(client, _RELEASE)
        self._hold_script = Script(client, _HOLD)
        self._write_script = Script(client, _WRITE_AND_RELEASE)

    async def get(self, key: str) -> SessionState | None:
        """The stored session, or None if absent or expired (ValueError if not a session)."""
        name = self._session_key(key)
        try:
            raw: str | bytes | None = await self._client.get(name)
        except ResponseError as exc:
            if not _wrong_type(exc):
                raise
            raise ValueError(f"{name!r} does not hold a stored USSD session: {exc}") from exc
        return _decoded(name, raw)

    async def set(self, key: str, state: SessionState, ttl: float) -> None:
        """Store ``state`` for ``ttl`` seconds (ValueError unless ``ttl`` is positive, finite)."""
        if not (ttl > 0 and math.isfinite(ttl)):
            raise ValueError(f"ttl must be positive and finite, not {ttl}")
        await self._client.set(self._session_key(key), state.to_json(), px=_milliseconds(ttl))

    async def delete(self, key: str) -> None:
        """Forget the session (no error if absent)."""
        await self._client.delete(self._session_key(key))

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Hold the session's lock in Redis for the ``async with`` block.

        Waits up to ``lock_wait`` seconds (then :class:`SessionBusy`); raises
        :class:`SessionLockLost` at the end of a block that outlived the lease.
        """
        name = self._lock_key(key)
        token, _ = await self._acquire(
            key, lambda token: self._client.set(name, token, nx=True, px=self._lease_ms)
        )
        try:
            yield
        except BaseException:
            # The block's own error wins; a failed release is cleaned up by the lease.
            with suppress(RedisError):
                await self._release(name, token)
            raise
        if not await self._release(name, token):
            raise SessionLockLost(
                f"the lock of session {key!r} expired before the hop ended "
                f"(lease {self._lease_ms} ms); another hop may have run meanwhile"
            )

    @asynccontextmanager
    async def hold(self, key: str, *, peek: str | None = None) -> AsyncIterator[Held]:
        """Lock ``key`` and read it (and ``peek``) in one script; write and unlock in another.

        The same waiting, :class:`SessionBusy` and :class:`SessionLockLost` as :meth:`lock`;
        a hop that outlived its lease writes nothing (see :class:`Held`).
        """
        lock, name = self._lock_key(key), self._session_key(key)
        names = [lock, name] if peek is None else [lock, name, self._session_key(peek)]

        async def take(token: str) -> Any:
            try:
                return await self._hold_script(names, [token, self._lease_ms])
            except ResponseError as exc:
                if not _wrong_type(exc):
                    raise
                raise ValueError(f"{names[1:]} do not hold stored USSD sessions: {exc}") from exc

        token, got = await self._acquire(key, take)
        values = [*got[1:], None, None]
        try:
            peeked = values[1]
            held = Held(_decoded(name, values[0]), lambda: _decoded(names[-1], peeked))
            yield held
        except BaseException:
            with suppress(RedisError):
                await self._release(lock, token)
            raise
        args: list[str | int] = [token]
        written = [lock]
        for write_key, write in held.writes.items():
            written.append(self._session_key(write_key))
            if write is None:
                args.append("del")
            else:
                args += ["set", write[0].to_json(), _milliseconds(write[1])]
        if not await self._write_script(written, args):
            raise SessionLockLost(
                f"the lock of session {key!r} expired before the hop ended "
                f"(lease {self._lease_ms} ms); another hop may have run meanwhile,"
                " so this hop's writes were not made"
            )

    async def _acquire(self, key: str, take: Callable[[str], Awaitable[Any]]) -> tuple[str, Any]:
        """A fresh token and ``take(token)``'s first truthy answer (it takes the lock).

        Polls every ``poll_interval`` until ``lock_wait`` has passed, then SessionBusy.
        """
        token = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait
        while not (got := await take(token)):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SessionBusy(
                    f"session {key!r} is busy: its lock was not free within {self._lock_wait} s"
                )
            await asyncio.sleep(min(self._poll, remaining))
        return token, got

    async def _release(self, name: str, token: str) -> bool:
        """Delete the lock if it still holds ``token``; False if it had expired or moved on."""
        deleted = await self._release_script([name], [token])
        return bool(deleted)

    def _session_key(self, key: str) -> str:
        return f"{self._prefix}session:{key}"

    def _lock_key(self, key: str) -> str:
        return f"{self._prefix}lock:{key}"


def _wrong_type(exc: ResponseError) -> bool:
    """Whether Redis refused because the key holds a hash, list, ... (not a string)."""
    return str(exc).startswith("WRONGTYPE")


def _decoded(name: str, raw: str | bytes | None) -> SessionState | None:
    """The session in a stored value (None for no value; ValueError if it is not one)."""
    if raw is None:
        return None
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        return SessionState.from_json(text)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise ValueError(f"{name!r} does not hold a stored USSD session: {exc}") from exc


def _milliseconds(seconds: float) -> int:
    """Whole milliseconds for ``PX``, at least 1 (Redis refuses 0)."""
    return max(1, round(seconds * 1000))
