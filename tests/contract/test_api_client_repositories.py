"""One contract for the partner API client repository: memory, SQLite, PostgreSQL.

Every field round-trips exactly (aware UTC time, the allow-list tuple, the active flag), the
key id is unique (``add`` answers False and changes nothing), the vendor must exist (the
foreign key), and nothing survives a unit of work that did not commit. Then the service on
top: ``create_api_client`` stores only the sealed secret, and ``load_api_client`` opens it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.contract.conftest import Backend
from vending_core.adapters.api_secrets import SecretBox
from vending_core.adapters.errors import ConstraintViolation
from vending_core.adapters.memory import MemoryKeyStore
from vending_core.adapters.memory_api import UnknownApiVendorError
from vending_core.domain.model import Vendor
from vending_core.service import ports
from vending_core.service.api_clients import (
    ApiClientInvalid,
    create_api_client,
    load_api_client,
)
from vending_core.service.api_records import ApiClient
from vending_core.service.core import Core

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)
KEY_ID = "vk_0123456789abcdef01234567"
KEK = bytes(range(32))


def _client(key_id: str = KEY_ID, **changes: Any) -> ApiClient:
    client = ApiClient(
        key_id=key_id,
        vendor_code="BANK1",
        name="Bank ATMs",
        sealed_secret="ab" * 60,
        allowed_ips=("10.0.0.0/8", "2001:db8::/32"),
        created_at=T0,
    )
    return replace(client, **changes)


async def _with_vendor(uow: ports.UnitOfWork) -> None:
    await uow.vendors.add(Vendor(code="BANK1", name="Bank", channel="api"))


async def test_round_trip_of_every_field(backend: Backend) -> None:
    """A client with an allow-list and active=False comes back equal; unknown ids are None."""
    client = _client(active=False)
    async with backend.new_uow() as uow:
        await _with_vendor(uow)
        assert await uow.api_clients.add(client)
        assert await uow.api_clients.add(_client("vk_other", allowed_ips=()))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.api_clients.get(KEY_ID) == client
        assert await uow.api_clients.get("vk_other") == _client("vk_other", allowed_ips=())
        assert await uow.api_clients.get("vk_missing") is None


async def test_key_id_is_unique(backend: Backend) -> None:
    """A second client with the same key id is not added, and the first is unchanged."""
    async with backend.new_uow() as uow:
        await _with_vendor(uow)
        assert await uow.api_clients.add(_client())
        assert not await uow.api_clients.add(_client(name="Impostor"))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.api_clients.get(KEY_ID) == _client()


async def test_vendor_must_exist(backend: Backend) -> None:
    """A client of a vendor code that is not stored is refused (the foreign key)."""
    async with backend.new_uow() as uow:
        with pytest.raises((UnknownApiVendorError, ConstraintViolation)):
            await uow.api_clients.add(_client(vendor_code="NOBODY"))


async def test_uncommitted_clients_are_rolled_back(backend: Backend) -> None:
    """Without commit, the new client does not survive the unit of work."""
    async with backend.new_uow() as uow:
        await _with_vendor(uow)
        await uow.api_clients.add(_client())
    async with backend.new_uow() as uow:
        assert await uow.api_clients.get(KEY_ID) is None


async def test_created_secret_is_stored_only_sealed(backend: Backend) -> None:
    """create_api_client returns the secret once; the row holds it sealed; load opens it."""
    core = Core(uow=backend.new_uow, keys=MemoryKeyStore(), clock=lambda: T0)
    async with backend.new_uow() as uow:
        await _with_vendor(uow)
        await uow.commit()
    box = SecretBox(KEK)
    created = await create_api_client(core, box, vendor_code="BANK1", allowed_ips=("192.0.2.7",))
    assert created.secret not in repr(created)
    async with backend.new_uow() as uow:
        stored = await uow.api_clients.get(created.key_id)
    assert stored is not None
    assert created.secret not in stored.sealed_secret
    assert created.secret.encode().hex() not in stored.sealed_secret
    assert stored.allowed_ips == ("192.0.2.7/32",)  # an address is a /32 network
    loaded = await load_api_client(core, box, created.key_id)
    assert loaded is not None
    assert loaded.secret == created.secret.encode()
    assert loaded.allows("192.0.2.7")
    assert not loaded.allows("192.0.2.8")
    with pytest.raises(ApiClientInvalid):
        await create_api_client(core, box, vendor_code="NOBODY")
    with pytest.raises(ApiClientInvalid):
        await create_api_client(core, box, vendor_code="BANK1", allowed_ips=("not-an-ip",))
