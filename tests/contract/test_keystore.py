"""Contract of ``ports.KeyStore``, and what the encrypted key store adds to it.

The contract runs against the in-memory twin and the AES-GCM store on SQLite and PostgreSQL;
the encryption tests (wrong KEK, tampering, nothing in clear at rest, cache) on the SQL ones.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.keystore import EncryptedKeyStore, KeyStoreError
from vending_core.adapters.memory import MemoryKeyStore
from vending_core.adapters.sql import sql_uow_factory
from vending_core.adapters.tables import vending_keys
from vending_core.domain.model import Customer
from vending_core.service import ports

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))
VENDING_KEY = bytes.fromhex("0123456789ABCDEF")
REF = "sgc-600727-krn2"

_ENGINES = [
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=_ENGINES)
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """An engine on an empty, migrated SQLite or PostgreSQL database."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


@pytest.fixture(params=[pytest.param("memory"), *_ENGINES])
def key_store(request: pytest.FixtureRequest) -> ports.KeyStore:
    """Each key store implementation in turn, empty."""
    if request.param == "memory":
        return MemoryKeyStore()
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return EncryptedKeyStore(engine, KEK)


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current fake time in seconds."""
        return self.now


async def _stored_row(engine: AsyncEngine, key_ref: str = REF) -> dict[str, bytes]:
    async with engine.connect() as connection:
        query = select(vending_keys).where(vending_keys.c.key_ref == key_ref)
        row = (await connection.execute(query)).mappings().one()
    return {name: bytes(row[name]) for name in ("nonce", "ciphertext", "tag")}


async def _overwrite(engine: AsyncEngine, **values: bytes) -> None:
    async with engine.begin() as connection:
        where = vending_keys.c.key_ref == REF
        await connection.execute(update(vending_keys).where(where).values(**values))


def _flip_first_bit(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


class TestContract:
    async def test_round_trip(self, key_store: ports.KeyStore) -> None:
        """A stored key comes back byte for byte."""
        await key_store.store(REF, VENDING_KEY)
        assert await key_store.vending_key(REF) == VENDING_KEY

    async def test_unknown_reference_raises_key_error(self, key_store: ports.KeyStore) -> None:
        """Asking for a reference never stored raises KeyError."""
        with pytest.raises(KeyError):
            await key_store.vending_key("nothing-here")

    async def test_store_replaces_the_key(self, key_store: ports.KeyStore) -> None:
        """Storing under an existing reference replaces the key; others are untouched."""
        await key_store.store(REF, VENDING_KEY)
        await key_store.store("other", b"\x11" * 16)
        await key_store.store(REF, b"\x22" * 8)
        assert await key_store.vending_key(REF) == b"\x22" * 8
        assert await key_store.vending_key("other") == b"\x11" * 16


class TestEncryptedKeyStore:
    async def test_a_new_store_with_the_same_kek_reads_the_key(self, engine: AsyncEngine) -> None:
        """The key is persisted: another store instance (another process) decrypts it."""
        await EncryptedKeyStore(engine, KEK).store(REF, VENDING_KEY)
        assert await EncryptedKeyStore(engine, KEK).vending_key(REF) == VENDING_KEY

    async def test_wrong_kek_raises_key_store_error(self, engine: AsyncEngine) -> None:
        """Another KEK cannot decrypt: a KeyStoreError naming the reference, no crypto error."""
        await EncryptedKeyStore(engine, KEK).store(REF, VENDING_KEY)
        with pytest.raises(KeyStoreError, match=f"{REF}.*wrong key encryption key") as caught:
            await EncryptedKeyStore(engine, OTHER_KEK).vending_key(REF)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__

    @pytest.mark.parametrize("column", ["ciphertext", "tag", "nonce"])
    async def test_tampered_row_raises_key_store_error(
        self, engine: AsyncEngine, column: str
    ) -> None:
        """Changing one bit of the ciphertext, the tag or the nonce is detected."""
        await EncryptedKeyStore(engine, KEK).store(REF, VENDING_KEY)
        stored = await _stored_row(engine)
        await _overwrite(engine, **{column: _flip_first_bit(stored[column])})
        with pytest.raises(KeyStoreError, match="altered"):
            await EncryptedKeyStore(engine, KEK).vending_key(REF)

    async def test_row_moved_to_another_reference_does_not_decrypt(
        self, engine: AsyncEngine
    ) -> None:
        """The reference is authenticated: one group's key copied under another's is refused."""
        store = EncryptedKeyStore(engine, KEK)
        await store.store(REF, VENDING_KEY)
        await store.store("other", b"\x33" * 8)
        await _overwrite(engine, **await _stored_row(engine, "other"))
        with pytest.raises(KeyStoreError):
            await EncryptedKeyStore(engine, KEK).vending_key(REF)

    async def test_nothing_in_clear_at_rest(self, engine: AsyncEngine) -> None:
        """The row holds no copy of the key; each store uses a fresh 12-byte nonce."""
        store = EncryptedKeyStore(engine, KEK)
        await store.store(REF, VENDING_KEY)
        first = await _stored_row(engine)
        await store.store(REF, VENDING_KEY)
        second = await _stored_row(engine)
        for row in (first, second):
            assert VENDING_KEY not in b"".join(row.values())
            assert (len(row["nonce"]), len(row["tag"])) == (12, 16)
        assert first["nonce"] != second["nonce"]
        assert first["ciphertext"] != second["ciphertext"]

    async def test_cache_serves_reads_until_it_expires(self, engine: AsyncEngine) -> None:
        """A decrypted key is served from memory (the row is not read) until its TTL passes."""
        clock = FakeMonotonic()
        store = EncryptedKeyStore(engine, KEK, cache_ttl_s=60, monotonic=clock)
        await EncryptedKeyStore(engine, KEK).store(REF, VENDING_KEY)
        assert await store.vending_key(REF) == VENDING_KEY
        stored = await _stored_row(engine)
        await _overwrite(engine, tag=_flip_first_bit(stored["tag"]))
        clock.now += 59
        assert await store.vending_key(REF) == VENDING_KEY  # cached: the row was not read
        clock.now += 2
        with pytest.raises(KeyStoreError):
            await store.vending_key(REF)

    async def test_cache_is_bounded_and_can_be_cleared(self, engine: AsyncEngine) -> None:
        """The cache holds at most cache_size keys (least recently used go first)."""
        store = EncryptedKeyStore(engine, KEK, cache_size=2)
        for n in range(3):
            await store.store(f"k{n}", bytes([n]) * 8)
        assert repr(store) == "EncryptedKeyStore(cached_keys=2)"
        assert await store.vending_key("k0") == bytes(8)
        store.clear_cache()
        assert repr(store) == "EncryptedKeyStore(cached_keys=0)"

    async def test_repr_shows_no_key_material(self, engine: AsyncEngine) -> None:
        """Neither the KEK nor a cached vending key appears in the store's repr."""
        store = EncryptedKeyStore(engine, KEK)
        await store.store(REF, VENDING_KEY)
        text = repr(store)
        for secret in (KEK, VENDING_KEY):
            assert secret.hex() not in text.lower()
            assert repr(secret) not in text

    def test_kek_must_be_32_bytes(self, engine: AsyncEngine) -> None:
        """A KEK that is not an AES-256 key is refused at construction."""
        with pytest.raises(ValueError, match="32 bytes"):
            EncryptedKeyStore(engine, KEK[:16])


async def test_sqlite_key_read_while_a_unit_of_work_holds_the_write_lock(
    sqlite_engine: AsyncEngine,
) -> None:
    """On SQLite a key can be read inside a vend: the read does not wait for the write lock."""
    await EncryptedKeyStore(sqlite_engine, KEK).store(REF, VENDING_KEY)
    async with sql_uow_factory(sqlite_engine)() as uow:
        await uow.customers.add(Customer(account_number="A", name="A"))  # holds the write lock
        reader = EncryptedKeyStore(sqlite_engine, KEK)
        assert await asyncio.wait_for(reader.vending_key(REF), timeout=5) == VENDING_KEY
