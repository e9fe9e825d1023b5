"""Helpers for the partner API end-to-end tests: a registered key, and what the core holds.

Everything is read through the running gateway's own vending core (``keys.CORE``), so a test
sees what the API stored, not what it answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import keys
from gateway.api.client import SigningClient
from tests.e2e.conftest import LiveGateway
from vending_core.adapters.api_secrets import SecretBox
from vending_core.domain.records import Vend, VendorEntry
from vending_core.service.api_clients import NewApiClient, create_api_client
from vending_core.service.demo_data import DEMO_METERS

VENDOR = "DEMO-POS"
#: Demo meter 3: residential block tariff, no debt, not registered for FBE.
METER = DEMO_METERS[2].number


async def new_client(
    gateway: LiveGateway, *, allowed_ips: tuple[str, ...] = ()
) -> tuple[SigningClient, NewApiClient]:
    """A fresh API key of DEMO-POS and a signing client using it."""
    core = gateway.app[keys.CORE]
    box = SecretBox(gateway.app[keys.SETTINGS].key_encryption_key)
    created = await create_api_client(core, box, vendor_code=VENDOR, allowed_ips=allowed_ips)
    client = SigningClient(gateway.http, gateway.base_url, created.key_id, created.secret)
    return client, created


@dataclass(frozen=True)
class Ledger:
    """The vendor's float and entries, and the vends of the meters asked about."""

    balance: int
    entries: list[VendorEntry]
    vends: list[Vend]


async def ledger(gateway: LiveGateway, *meters: str) -> Ledger:
    """What the database holds for DEMO-POS and ``meters`` now."""
    core = gateway.app[keys.CORE]
    async with core.uow() as uow:
        vendor = await uow.vendors.get_by_code(VENDOR)
        assert vendor is not None
        assert vendor.id is not None
        entries = await uow.vendors.entries(vendor.id)
        vends: list[Vend] = []
        for number in meters:
            meter = await uow.meters.get_by_number(number)
            assert meter is not None
            assert meter.id is not None
            vends += await uow.vends.for_meter(meter.id, limit=1000)
    return Ledger(vendor.balance, entries, vends)


async def set_float(gateway: LiveGateway, *, balance: int, credit_limit: int) -> None:
    """Give DEMO-POS this balance and credit limit (minor units)."""
    core = gateway.app[keys.CORE]
    async with core.uow() as uow:
        vendor = await uow.vendors.get_by_code(VENDOR, lock=True)
        assert vendor is not None
        vendor.balance, vendor.credit_limit = balance, credit_limit
        await uow.vendors.update(vendor)
        await uow.commit()
