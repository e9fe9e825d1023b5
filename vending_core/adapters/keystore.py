"""Vending keys at rest, encrypted with AES-256-GCM under the key encryption key (KEK).

Each row of ``vending_keys`` holds a random 12-byte nonce, the ciphertext and the 16-byte GCM
tag; the ``key_ref`` is the associated data, so a row copied under another reference does not
decrypt. ``store`` replaces a key (with a new nonce). The KEK comes from
``Settings.key_encryption_key``; production refuses the public development KEK.

Decrypted keys are kept in a small in-process cache (least recently used, bounded, entries
expire after ``cache_ttl_s``) so a vend does not read and decrypt the key every time; a key
replaced by another process is seen here once its entry expires. Keys are never logged and
the store's ``repr`` shows none.

Reads run in a read (``DEFERRED``) transaction, so on SQLite a key can be fetched while a unit
of work holds the write lock. Call :meth:`EncryptedKeyStore.store` outside a unit of work.
Give the store its own small engine (``create_engine(url, pool_size=2)``): a vend asks for its
key while its unit of work holds a pooled connection, so sharing the units of work's pool can
starve the key read when every connection is busy vending.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.db import SQLITE_BEGIN
from vending_core.adapters.errors import KeyStoreError
from vending_core.adapters.sql import utc_now
from vending_core.adapters.tables import vending_keys

__all__ = ["KEK_BYTES", "EncryptedKeyStore", "KeyStoreError"]

KEK_BYTES: Final = 32
_NONCE_BYTES: Final = 12


class EncryptedKeyStore:
    """``ports.KeyStore`` backed by the ``vending_keys`` table.

    Args:
        engine: From :func:`vending_core.adapters.db.create_engine`.
        kek: The 32-byte key encryption key.
        cache_size: Most decrypted keys held in memory.
        cache_ttl_s: Seconds a decrypted key is served from memory before it is read again.
        monotonic: Clock for the cache's expiry (tests pass a fake).

    Raises:
        ValueError: ``kek`` is not 32 bytes.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        kek: bytes,
        *,
        cache_size: int = 64,
        cache_ttl_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(kek) != KEK_BYTES:
            raise ValueError(f"the key encryption key must be {KEK_BYTES} bytes (AES-256)")
        self._engine = engine
        self._kek = bytes(kek)
        self._cache_size = cache_size
        self._cache_ttl_s = cache_ttl_s
        self._monotonic = monotonic
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __repr__(self) -> str:
        return f"EncryptedKeyStore(cached_keys={len(self._cache)})"

    async def vending_key(self, key_ref: str) -> bytes:
        """The clear vending key stored under ``key_ref``.

        Raises:
            KeyError: No key is stored under ``key_ref``.
            KeyStoreError: The row does not decrypt (wrong KEK, or the row was altered).
        """
        cached = self._cached(key_ref)
        if cached is not None:
            return cached
        row = await self._load(key_ref)
        if row is None:
            raise KeyError(key_ref)
        key = self._decrypt(key_ref, row)
        self._remember(key_ref, key)
        return key

    async def store(self, key_ref: str, key: bytes) -> None:
        """Encrypt and store ``key`` under ``key_ref``, replacing any key stored there."""
        nonce = get_random_bytes(_NONCE_BYTES)
        cipher = AES.new(self._kek, AES.MODE_GCM, nonce=nonce)
        cipher.update(key_ref.encode())
        ciphertext, tag = cipher.encrypt_and_digest(bytes(key))
        values = {"nonce": nonce, "ciphertext": ciphertext, "tag": tag, "created_at": utc_now()}
        async with self._engine.begin() as connection:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(vending_keys).values(key_ref=key_ref, **values)
            await connection.execute(
                statement.on_conflict_do_update(index_elements=["key_ref"], set_=values)
            )
        self._remember(key_ref, bytes(key))

    def clear_cache(self) -> None:
        """Forget every decrypted key (the next read decrypts again)."""
        self._cache.clear()

    async def _load(self, key_ref: str) -> Any:
        query = select(vending_keys).where(vending_keys.c.key_ref == key_ref)
        async with self._engine.connect() as connection:
            reader = await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
            return (await reader.execute(query)).mappings().first()

    def _decrypt(self, key_ref: str, row: Any) -> bytes:
        try:
            cipher = AES.new(self._kek, AES.MODE_GCM, nonce=bytes(row["nonce"]))
            cipher.update(key_ref.encode())
            return cipher.decrypt_and_verify(bytes(row["ciphertext"]), bytes(row["tag"]))
        except ValueError:
            # pycryptodome says "MAC check failed"; say what it means and hide the traceback.
            raise KeyStoreError(
                f"the vending key {key_ref!r} does not decrypt: wrong key encryption key,"
                " or the stored row was altered"
            ) from None

    def _cached(self, key_ref: str) -> bytes | None:
        entry = self._cache.get(key_ref)
        if entry is None:
            return None
        stored_at, key = entry
        if self._monotonic() - stored_at > self._cache_ttl_s:
            del self._cache[key_ref]
            return None
        self._cache.move_to_end(key_ref)
        return key

    def _remember(self, key_ref: str, key: bytes) -> None:
        self._cache[key_ref] = (self._monotonic(), key)
        self._cache.move_to_end(key_ref)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
