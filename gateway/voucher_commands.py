"""``vendgate vouchers generate`` and ``vendgate vouchers list``: scratch-card batches.

``generate --batch B --count N --face-value MINOR [--currency XXX] --out FILE.csv`` issues a
batch (:func:`vending_core.service.voucher_batches.issue_batch`, the rules of
``POST /admin/v1/voucher-batches``) and writes ``serial,pin`` rows for the printer to
``FILE.csv``, created with mode 0600 and never over an existing file (the file is created
first, so nothing is issued when it cannot be; it is removed again when the batch is
refused). The PINs are in that file only: nothing is printed or logged but the count. The
audit log records the batch as done by ``cli``. ``list`` prints every batch with its counts.

Only the standard library is imported at module level: ``vendgate --help`` stays light.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings
    from vending_core.domain.vouchers import VoucherBatch

__all__ = ["add_voucher_parser", "run_vouchers"]

_PRIVATE = 0o600
_PAGE = 200


def add_voucher_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``vouchers`` subcommand: ``generate`` and ``list``."""
    vouchers = commands.add_parser(
        "vouchers", help="scratch-card voucher batches", description="Scratch-card batches."
    )
    actions = vouchers.add_subparsers(dest="vouchers_command", required=True, metavar="ACTION")
    generate = actions.add_parser(
        "generate",
        help="issue a batch and write its serials and PINs to a new CSV file (mode 0600)",
        description="Issue COUNT cards of FACE_VALUE (minor units) named BATCH-000001... and"
        " write 'serial,pin' rows to OUT for printing. The PINs are shown only in that file.",
    )
    generate.add_argument("--batch", required=True, help="a new batch name (1-25 characters)")
    generate.add_argument("--count", required=True, type=int, help="cards, 1 to 10000")
    generate.add_argument(
        "--face-value", required=True, type=int, help="each card's value in minor units"
    )
    generate.add_argument("--currency", default=None, help="default: VENDGATE_CURRENCY")
    generate.add_argument("--out", required=True, type=Path, help="the CSV file to create")
    actions.add_parser("list", help="list batches with counts by status")


def run_vouchers(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> int:
    """Run ``vouchers generate`` or ``vouchers list`` on the environment's settings."""
    from config.settings import ConfigError, Settings  # noqa: PLC0415 - lazy, like the rest

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        parser.exit(2, f"vendgate: configuration error: {exc}\n")
    if namespace.vouchers_command == "generate":
        return _generate(settings, namespace)
    return _list(settings)


def _generate(settings: Settings, namespace: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - lazy, like the other commands

    from vending_core.domain.errors import VendingError  # noqa: PLC0415

    currency = namespace.currency or settings.gateway.currency
    if currency != settings.gateway.currency:
        return _fail(f"cards must be in {settings.gateway.currency}, the currency sold in")
    out: Path = namespace.out
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    except FileExistsError:
        return _fail(f"{out} exists; it is not overwritten")
    except OSError as exc:
        return _fail(f"cannot create {out}: {exc.strerror}")
    with os.fdopen(fd, "w", newline="", encoding="ascii") as file:  # 0600: a umask only clears
        try:
            cards = asyncio.run(_issue(settings, namespace, currency))
        except VendingError as exc:
            out.unlink()
            return _fail(exc.message)
        except BaseException:
            out.unlink()
            raise
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(("serial", "pin"))
        writer.writerows(cards)
    print(
        f"wrote {len(cards)} cards of batch {namespace.batch!r}"
        f" ({_money(namespace.face_value)} {currency} each) to {out}"
    )
    return 0


async def _issue(
    settings: Settings, namespace: argparse.Namespace, currency: str
) -> list[tuple[str, str]]:
    from config.settings import Environment  # noqa: PLC0415 - lazy, like the other commands
    from gateway.app import voucher_salt  # noqa: PLC0415
    from vending_core.adapters.compose import sql_core  # noqa: PLC0415
    from vending_core.service.admin_accounts import record  # noqa: PLC0415
    from vending_core.service.voucher_batches import issue_batch  # noqa: PLC0415

    develop = settings.environment is Environment.DEVELOPMENT
    batch, count, face_value = namespace.batch, namespace.count, namespace.face_value
    async with sql_core(
        settings.database_url, settings.key_encryption_key, migrate=develop
    ) as core:
        salt = voucher_salt(settings)
        cards = await issue_batch(core.uow, salt, core.now(), batch, count, face_value, currency)
        after = {"batch": batch, "count": count, "face_value": face_value, "currency": currency}
        after |= {"first_serial": cards[0][0], "last_serial": cards[-1][0]}
        async with core.uow() as uow:
            await record(
                uow,
                core.now(),
                None,
                "cli",
                action="voucher_batch.create",
                entity="voucher_batch",
                entity_id=batch,
                after=after,
            )
            await uow.commit()
    return cards


def _list(settings: Settings) -> int:
    import asyncio  # noqa: PLC0415 - lazy, like the other commands

    batches = asyncio.run(_batches(settings))
    print(
        f"{'batch':<25} {'cur':<3} {'face value':>12} {'cards':>6} {'active':>6}"
        f" {'redeemed':>8} {'void':>6} {'active value':>14}"
    )
    for b in batches:
        print(
            f"{b.batch:<25} {b.currency:<3} {_money(b.face_value):>12} {b.count:>6}"
            f" {b.active:>6} {b.redeemed:>8} {b.void:>6} {_money(b.active_value):>14}"
        )
    return 0


async def _batches(settings: Settings) -> list[VoucherBatch]:
    from config.settings import Environment  # noqa: PLC0415 - lazy, like the other commands
    from vending_core.adapters.compose import sql_core  # noqa: PLC0415

    develop = settings.environment is Environment.DEVELOPMENT
    found: list[VoucherBatch] = []
    async with sql_core(
        settings.database_url, settings.key_encryption_key, migrate=develop
    ) as core:
        while True:
            async with core.read_uow() as uow:
                page = await uow.vouchers.batches(limit=_PAGE, offset=len(found))
            found += page
            if len(page) < _PAGE:
                return found


def _money(minor: int) -> str:
    return f"{minor // 100:,}.{minor % 100:02d}"


def _fail(message: str) -> int:
    print(f"vendgate: {message}", file=sys.stderr)
    return 1
