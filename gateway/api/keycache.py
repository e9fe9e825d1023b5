"""A small per-process TTL cache of API client credentials (key id -> opened record).

Without it every signed request opens a database transaction to read its key and decrypts
the sealed secret (AES-GCM) before the handler starts its own transactions; under load that
lookup competes for the same connection pool as the vends. ``bench/api_bench.py`` measures
the difference.

Trade-off: a key deactivated (or whose allow-list changed) in the database is still honoured
by a replica for up to ``ttl`` seconds. Only found keys are cached, so unknown key ids always
reach the database (and cannot fill the cache); the cache holds at most ``max_entries``
records, dropping the oldest. Secrets stay in memory only, as they do for each request anyway.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final

from vending_core.service.api_clients import ApiCredentials

__all__ = ["DEFAULT_TTL_S", "CredentialCache"]

DEFAULT_TTL_S: Final = 5.0  #: seconds a looked-up key is reused
DEFAULT_MAX_ENTRIES: Final = 1024

Loader = Callable[[str], Awaitable[ApiCredentials | None]]


class CredentialCache:
    """Remembers found credentials for ``ttl`` seconds of ``clock`` (a monotonic clock)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        ttl: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if ttl < 0 or max_entries < 1:
            raise ValueError("ttl must be >= 0 and max_entries >= 1")
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, ApiCredentials]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"CredentialCache(ttl={self._ttl}, entries={len(self._entries)})"

    async def get(self, key_id: str, load: Loader) -> ApiCredentials | None:
        """``key_id``'s credentials: cached while fresh, else ``load(key_id)`` (kept if found)."""
        now = self._clock()
        entry = self._entries.get(key_id)
        if entry is not None and now < entry[0]:
            return entry[1]
        credentials = await load(key_id)
        if credentials is None:
            self._entries.pop(key_id, None)
            return None
        self._entries[key_id] = (now + self._ttl, credentials)
        self._entries.move_to_end(key_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return credentials
