"""``vendgate`` commands that run the vending core on the configured database.

* ``db upgrade``: migrate the database (``VENDGATE_DATABASE_URL``; SQLite file by default).
* ``demo-data``: migrate, load the demo utility once, list its meters.
* ``vend METER AMOUNT``: sell through the vending core and print the receipt.
* ``demo``: the newcomer's tour: load the demo data, sell to a DKGA02/EA07 and a
  DKGA04/EA11 meter, enter each token into the STS reference meter, replay a request and
  show that it returns the same token.

Configuration comes from :class:`config.settings.Settings` (environment variables).
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation

from config.settings import Settings
from vending_core.adapters.compose import sql_core
from vending_core.adapters.migrate import upgrade
from vending_core.domain.errors import VendingError
from vending_core.service.core import Core, RequestContext
from vending_core.service.demo_data import (
    DEMO_METERS,
    DemoMeter,
    load_demo_data,
)
from vending_core.service.results import VendResult
from vending_core.service.vending import vend_credit

__all__ = ["db_upgrade", "demo", "demo_data", "parse_amount", "vend"]


def parse_amount(text: str) -> int:
    """A money amount typed in major units ("100", "99.50") as minor units (cents)."""
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    cents = amount * 100
    if not amount.is_finite() or cents != cents.to_integral_value() or amount <= 0:
        raise ValueError(f"an amount is a positive number with at most 2 decimals: {text!r}")
    return int(cents)


def _money(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def _grouped(token: str) -> str:
    return " ".join(token[i : i + 4] for i in range(0, 20, 4))


def print_receipt(result: VendResult) -> None:
    """Print a receipt the way a vending point would."""
    copy = " (copy)" if result.replayed else ""
    print(f"  Receipt {result.vend_id}{copy}  meter {result.meter_number}  {result.customer_name}")
    for line in result.lines:
        if line.amount:
            print(f"    {line.label:<16}{_money(line.amount):>12}")
    print(f"    {'total':<16}{_money(result.gross):>12}")
    for step in result.steps:
        print(f"    {step}")
    for token in result.tokens:
        units = "" if token.tenths is None else f"  {token.tenths / 10:.1f} kWh"
        print(f"    {token.kind.value:<12} {_grouped(token.token)}{units}")


async def db_upgrade(settings: Settings) -> None:
    """Migrate the configured database to the newest schema."""
    await upgrade(settings.database_url)
    print(f"database is up to date: {settings!r}")


async def demo_data(settings: Settings) -> None:
    """Migrate, load the demo utility unless present, and list its meters."""
    async with sql_core(
        settings.database_url, settings.key_encryption_key, migrate=True, tz=settings.utility_zone
    ) as core:
        loaded = await load_demo_data(core)
    print("demo data loaded" if loaded else "demo data already present")
    print("  meter        customer          SGC     key     tariff")
    for meter in DEMO_METERS:
        key = f"DKGA0{meter.dkga}/EA{meter.ea:02d}"
        fbe = "  FBE" if meter.fbe else ""
        print(f"  {meter.number}  {meter.customer:<16}  {meter.sgc}  {key}  {meter.tariff}{fbe}")


async def vend(settings: Settings, meter: str, amount: int, request_id: str | None) -> int:
    """Sell ``amount`` (minor units) to ``meter`` and print the receipt; 1 if refused."""
    async with sql_core(
        settings.database_url, settings.key_encryption_key, migrate=True, tz=settings.utility_zone
    ) as core:
        ctx = RequestContext(
            client_id="cli", request_id=request_id or secrets.token_hex(8), channel="cli"
        )
        try:
            result = await vend_credit(core, ctx, meter, amount)
        except VendingError as exc:
            print(f"refused ({exc.code}): {exc.message}")
            return 1
    print_receipt(result)
    return 0


async def _sell_and_enter(core: Core, demo: DemoMeter, request_id: str) -> VendResult:
    ctx = RequestContext(client_id="demo", request_id=request_id, channel="cli")
    result = await vend_credit(core, ctx, demo.number, 10_000)
    print_receipt(result)
    meter = demo.reference_meter()
    for token in result.tokens:
        outcome = meter.enter(token.token)
        print(f"    reference meter: {outcome.message} [{outcome.result.name}]")
    print(f"    meter credit now {meter.credit_tenths() / 10:.1f} kWh")
    return result


async def demo(settings: Settings) -> None:
    """Sell to two demo meters through the core, check the tokens on the reference meter."""
    async with sql_core(
        settings.database_url, settings.key_encryption_key, migrate=True, tz=settings.utility_zone
    ) as core:
        await load_demo_data(core)
        run = secrets.token_hex(4)
        print(f"Vendgate demo on {settings.database_url}")
        for demo_meter in (DEMO_METERS[0], DEMO_METERS[9]):
            key = f"DKGA0{demo_meter.dkga}/EA{demo_meter.ea:02d}"
            print(f"\nSell R100.00 to {demo_meter.customer}'s meter ({key}):")
            first = await _sell_and_enter(core, demo_meter, f"{run}-{demo_meter.number}")
        print("\nThe same request again (a retry after a timeout) returns the stored sale:")
        ctx = RequestContext(
            client_id="demo", request_id=f"{run}-{demo_meter.number}", channel="cli"
        )
        again = await vend_credit(core, ctx, demo_meter.number, 10_000)
        print_receipt(again)
        same = "the same token" if again.tokens == first.tokens else "A DIFFERENT TOKEN (bug!)"
        print(f"    {same}; no second sale was made")
    print("\nTry: vendgate vend 00000000026 50   |   vendgate demo-data   |   vendgate sts --help")


async def backup_or_restore(settings: Settings, command: str, file: str) -> int:
    """``vendgate backup FILE`` / ``vendgate restore FILE``; exit status 1 with the reason."""
    from pathlib import Path  # noqa: PLC0415 - lazy, like the command itself

    from vending_core.adapters.backup import BackupError, backup, restore  # noqa: PLC0415

    try:
        if command == "backup":
            await backup(settings.database_url, Path(file))
        else:
            await restore(settings.database_url, Path(file))
    except BackupError as exc:
        print(f"vendgate {command}: {exc}")
        return 1
    print(f"vendgate {command}: done ({file})")
    return 0
