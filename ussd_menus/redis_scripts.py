"""Lua scripts run by their SHA1, loaded on demand: redis-py's ``Script`` without its overhead.

redis-py's ``AsyncScript.__call__`` checks on every call whether the client is a pipeline, an
``isinstance`` against a runtime-checkable protocol: ~1.5 % of a gateway replica's CPU in
``bench/load.py`` (py-spy), for a question whose answer never changes here. :class:`Script`
sends ``EVALSHA`` directly and, when the server does not know the script (a restart, a
``SCRIPT FLUSH``, a fresh server), loads it with ``SCRIPT LOAD`` and tries once more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

__all__ = ["Script"]


class Script:
    """One Lua script bound to one client: ``await script(keys, args)``."""

    __slots__ = ("_client", "_sha", "_source")

    def __init__(self, client: Redis, source: str) -> None:
        self._client = client
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    @property
    def sha(self) -> str:
        """The script's SHA1, as Redis names it."""
        return self._sha

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """Run the script on ``keys`` with ``args``; its reply."""
        try:
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._client.script_load(self._source)
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
