import pytest

from gateway.api.keycache import CredentialCache
from vending_core.service.api_clients import ApiCredentials


class Clock:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now


class Store:
    """The database stand-in: which keys exist, and how often each was looked up."""

    def __init__(self, *key_ids: str) -> None:
        self.rows = {k: ApiCredentials(k, "DEMO-POS", (), b"secret-" + k.encode()) for k in key_ids}
        self.loads: list[str] = []

    async def load(self, key_id: str) -> ApiCredentials | None:
        """The key's record, or None; every call is counted."""
        self.loads.append(key_id)
        return self.rows.get(key_id)


async def test_a_found_key_is_reused_until_its_ttl_ends() -> None:
    """Within 5 s one lookup serves every request; at exactly 5 s the key is read again."""
    clock, store = Clock(), Store("vk_a")
    cache = CredentialCache(clock, ttl=5.0)
    first = await cache.get("vk_a", store.load)
    clock.now += 4.999
    assert await cache.get("vk_a", store.load) is first
    assert store.loads == ["vk_a"]
    clock.now = 105.0  # stored at 100.0 with ttl 5.0: stale from 105.0 on
    assert await cache.get("vk_a", store.load) == first
    assert store.loads == ["vk_a", "vk_a"]


async def test_a_deactivated_key_is_refused_once_its_entry_is_stale() -> None:
    """The database's answer wins after the TTL: a removed key is None and is forgotten."""
    clock, store = Clock(), Store("vk_a")
    cache = CredentialCache(clock, ttl=5.0)
    assert await cache.get("vk_a", store.load) is not None
    del store.rows["vk_a"]
    clock.now += 6
    assert await cache.get("vk_a", store.load) is None
    assert len(cache) == 0


async def test_unknown_keys_are_never_cached() -> None:
    """Every lookup of an unknown key id reaches the store (and leaves nothing behind)."""
    clock, store = Clock(), Store()
    cache = CredentialCache(clock)
    assert await cache.get("vk_nope", store.load) is None
    assert await cache.get("vk_nope", store.load) is None
    assert store.loads == ["vk_nope", "vk_nope"]
    assert len(cache) == 0


async def test_the_cache_keeps_at_most_max_entries_dropping_the_oldest() -> None:
    """With room for 2: a, b, then c evicts a (a is read again), b stays cached."""
    clock, store = Clock(), Store("a", "b", "c")
    cache = CredentialCache(clock, max_entries=2)
    for key in ("a", "b", "c"):
        await cache.get(key, store.load)
    assert len(cache) == 2
    await cache.get("b", store.load)
    await cache.get("a", store.load)
    assert store.loads == ["a", "b", "c", "a"]


async def test_a_zero_ttl_disables_the_cache() -> None:
    """ttl=0: every request reads the store (the behaviour before the cache)."""
    clock, store = Clock(), Store("vk_a")
    cache = CredentialCache(clock, ttl=0.0)
    await cache.get("vk_a", store.load)
    await cache.get("vk_a", store.load)
    assert store.loads == ["vk_a", "vk_a"]


def test_nonsense_settings_are_refused() -> None:
    """A negative TTL or no room at all is a ValueError, not a silently useless cache."""
    with pytest.raises(ValueError, match="ttl"):
        CredentialCache(Clock(), ttl=-1)
    with pytest.raises(ValueError, match="max_entries"):
        CredentialCache(Clock(), max_entries=0)
