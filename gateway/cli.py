"""The ``vendgate`` command line.

Subcommands:

* ``vendgate sts ...`` hands every argument after ``sts`` unchanged to the STS codec's own
  command line (``python -m sts``), options and ``--help`` included.
* ``vendgate demo`` sells to two demo meters through the vending core on the configured
  database (SQLite file ``vendgate.sqlite3`` by default) and enters every token into the
  STS reference meter.
* ``vendgate serve [--host H] [--port P] [--demo-data]`` runs the HTTP gateway
  (:mod:`gateway.serve`).
* ``vendgate backup FILE`` / ``vendgate restore FILE`` save and restore the database.
* ``vendgate demo-data`` loads the demo utility; ``vendgate vend METER AMOUNT`` sells;
  ``vendgate db upgrade`` migrates the database (see :mod:`gateway.vending_commands`).
* ``vendgate vend --url URL --key ID --secret-file PATH METER AMOUNT`` sells through a running
  gateway's partner API instead (:mod:`gateway.api.commands`).
* ``vendgate api create-client --vendor CODE [--name N] [--allow-ip NET ...]`` registers a
  partner API key and prints its secret once (:mod:`gateway.api.commands`).
* ``vendgate admin create-user --username U --level administrator [--area A]`` creates a
  back-office user (the first administrator); the password is read with ``getpass`` (or one
  line of stdin when it is not a terminal), never a default.
* ``vendgate vouchers generate --batch B --count N --face-value MINOR [--currency XXX]
  --out FILE.csv`` issues a scratch-card batch and writes its PINs to a new 0600 file;
  ``vendgate vouchers list`` lists batches (:mod:`gateway.voucher_commands`).
* ``vendgate check-ledger [--no-tokens] [--json]`` proves the ledger's invariants from the
  database; exit 0 when they hold, 1 when one is violated, 2 on error
  (:mod:`gateway.ledger_command`).

Configuration comes from ``VENDGATE_*`` environment variables (:mod:`config.settings`).
The codec's CLI and the vending core are imported only when a command needs them, so
``vendgate --help`` and ``vendgate --version`` work without them.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from gateway.voucher_commands import add_voucher_parser, run_vouchers

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["main"]

_DISTRIBUTION = "vendgate"
# A prefix character no argument starts with: the ``sts`` subparser then sees every
# argument as positional, so options such as --help reach the codec's CLI untouched.
_NO_OPTIONS = "\0"


def _version() -> str:
    """Return the installed distribution's version, or say that it is not installed."""
    try:
        return version(_DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with the ``sts`` and ``demo`` subcommands."""
    parser = argparse.ArgumentParser(
        prog="vendgate",
        description="Vendgate: a prepaid-utility vending gateway that issues STS (IEC 62055-41)"
        " tokens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sts = commands.add_parser(
        "sts",
        help="STS token codec tools; 'vendgate sts --help' lists them",
        description="Run the STS token codec's command line (the same as 'python -m sts').",
        prefix_chars=_NO_OPTIONS,
        add_help=False,
    )
    # REMAINDER, unlike "*", also keeps a literal "--" for the codec's CLI to see.
    sts.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the codec's CLI")
    commands.add_parser(
        "demo",
        help="sell to demo meters through the vending core and check the tokens on the"
        " reference meter",
        description="Load the demo utility into the configured database (SQLite by default),"
        " sell R100.00 to a DKGA02/EA07 and a DKGA04/EA11 meter, enter each token into the STS"
        " reference meter, and replay a request to show it returns the same token.",
    )
    commands.add_parser(
        "demo-data",
        help="load the demo utility (test keys, tariffs, twelve meters) and list its meters",
        description="Migrate the configured database and load the demo utility once. Its"
        " vending keys are the public STS test keys: never use them in production.",
    )
    vend = commands.add_parser(
        "vend",
        help="sell credit to a meter and print the receipt",
        description="Sell AMOUNT (in currency units, e.g. 100 or 99.50) of credit to METER"
        " through the vending core, and print the receipt with the token(s).",
        epilog="example: vendgate vend 00000000026 50",
    )
    vend.add_argument("meter", help="meter number (11 or 13 digits, or the 18-digit PAN)")
    vend.add_argument("amount", help="amount in currency units, at most 2 decimals")
    vend.add_argument(
        "--request-id", help="idempotency key: the same id returns the same sale (default: new)"
    )
    vend.add_argument("--url", help="sell through this gateway's /api/v1 instead of the database")
    vend.add_argument("--key", help="with --url: the API key id")
    vend.add_argument("--secret-file", help="with --url: a file holding the API key's secret")
    serve = commands.add_parser(
        "serve",
        help="run the gateway (USSD, payment and SMS callbacks, health, metrics)",
        description="Run the HTTP gateway on its configured database, session store, payment"
        " provider and SMS sender (embedded defaults: SQLite, memory, sandbox, console)."
        " SIGINT/SIGTERM drain in-flight requests, then stop.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument(
        "--demo-data",
        action="store_true",
        help="load the demo utility first (test keys: never in production)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N gateway processes on the port, one per core (N > 1 needs PostgreSQL and"
        " VENDGATE_REDIS_URL; default 1)",
    )
    serve.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    for name, verb in (("backup", "write a backup of"), ("restore", "replace")):
        command = commands.add_parser(
            name,
            help=f"{verb} the configured database {'to' if name == 'backup' else 'from'} FILE",
            description="SQLite: online backup API (stop the gateway before a restore)."
            " PostgreSQL: pg_dump/pg_restore (on PATH). Vending keys stay encrypted under"
            " the key-encryption key: keep the KEK apart from the backups.",
        )
        command.add_argument("file", help="the backup file")
    db = commands.add_parser("db", help="database maintenance", description="Database tools.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser(
        "upgrade",
        help="migrate the database to the newest schema",
        description="Run the Alembic migrations on VENDGATE_DATABASE_URL.",
    )
    _add_api_parser(commands)
    _add_admin_parser(commands)
    add_voucher_parser(commands)
    _add_ledger_parser(commands)
    return parser


def _check_ledger(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> int:
    """``check-ledger``: the exit status of the check (0 ok, 1 violated, 2 error)."""
    import asyncio  # noqa: PLC0415 - lazy, like the other commands
    import os  # noqa: PLC0415

    from config.settings import ConfigError, Settings  # noqa: PLC0415
    from gateway.ledger_command import check_ledger_command  # noqa: PLC0415

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        parser.exit(2, f"vendgate: configuration error: {exc}\n")
    tokens, as_json = not namespace.no_tokens, namespace.json
    return asyncio.run(check_ledger_command(settings, tokens=tokens, as_json=as_json))


def _add_ledger_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``check-ledger`` subcommand: the invariants checker."""
    check = commands.add_parser(
        "check-ledger",
        help="prove the ledger's invariants from the database (exit 0 ok, 1 violated, 2 error)",
        description="Check, read-only: every successful payment has exactly one vend; every"
        " vend has its tokens; no two tokens of a meter share a TID; vendor balances equal"
        " their ledger; every token decodes with its meter's key and loads its units on the"
        " STS reference meter. Exit status 0 when all hold, 1 when any is violated, 2 when"
        " the check could not run.",
    )
    check.add_argument(
        "--no-tokens", action="store_true", help="skip decoding every token (the slow check)"
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")


def _serve(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace, settings: Settings
) -> int:
    """``serve``: one process, or ``--workers`` processes on the port."""
    from gateway import serve  # noqa: PLC0415 - lazy, like the other commands

    if namespace.workers > 1:
        try:
            return serve.serve_workers(
                settings,
                host=namespace.host,
                port=namespace.port,
                demo_data=namespace.demo_data,
                workers=namespace.workers,
            )
        except serve.WorkersRefused as exc:
            parser.exit(2, f"vendgate: {exc}\n")
    serve.serve(
        settings,
        host=namespace.host,
        port=namespace.port,
        demo_data=namespace.demo_data,
        worker=namespace.worker,
    )
    return 0


def _add_admin_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``admin`` subcommand: back-office users."""
    admin = commands.add_parser("admin", help="back-office users", description="Admin users.")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = admin_commands.add_parser(
        "create-user",
        help="create a back-office user (the password is read from the terminal or stdin)",
        description="Create a user of LEVEL; the first administrator is created this way.",
    )
    create.add_argument("--username", required=True)
    create.add_argument(
        "--level",
        required=True,
        choices=["administrator", "sms_manager", "pos_manager", "operator"],
    )
    create.add_argument("--area", default=None, help="vending point code or SGC (default: all)")


def _read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    import getpass  # noqa: PLC0415 - lazy, like the other commands
    import sys  # noqa: PLC0415

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise ValueError("the passwords differ")
    return password


async def _create_admin_user(
    settings: Settings, namespace: argparse.Namespace, password: str
) -> int:
    """Store the user (migrating a development database first); exit status 1 if refused."""
    import sys  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415 - lazy, like the other commands

    from config.settings import Environment  # noqa: PLC0415
    from vending_core.adapters.compose import sql_core  # noqa: PLC0415
    from vending_core.service import admin_accounts as accounts  # noqa: PLC0415
    from vending_core.service.admin_records import AdminLevel, AdminUser  # noqa: PLC0415

    develop = settings.environment is Environment.DEVELOPMENT
    draft = AdminUser(
        username=namespace.username,
        level=AdminLevel.parse(namespace.level),
        password_hash="",
        created_at=datetime.now(UTC),
        area=namespace.area,
    )
    async with sql_core(
        settings.database_url, settings.key_encryption_key, migrate=develop
    ) as core:
        try:
            user = await accounts.create_user(core, None, "cli", draft, password)
        except accounts.AdminError as exc:
            print(f"vendgate: {exc.message}", file=sys.stderr)
            return 1
    print(f"created {user.level.label} {user.username!r} (id {user.id})")
    return 0


def _add_api_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``api`` subcommand: partner API keys."""
    api = commands.add_parser("api", help="partner vending API keys", description="API keys.")
    api_commands = api.add_subparsers(dest="api_command", required=True, metavar="ACTION")
    create = api_commands.add_parser(
        "create-client",
        help="register an API key for a vendor and print its secret (shown once)",
        description="Create an API key that sells from VENDOR's float; prints the key id and"
        " the secret, which is stored only encrypted and never shown again.",
    )
    create.add_argument("--vendor", required=True, help="the vendor code, e.g. DEMO-POS")
    create.add_argument("--name", default="", help="a label for the key (default: the vendor)")
    create.add_argument(
        "--allow-ip",
        action="append",
        default=[],
        metavar="NET",
        help="address or CIDR network the key may call from (repeat; default: any)",
    )


def _run_sts(argv: list[str]) -> int:
    """Run the STS codec's CLI with ``argv`` and return its exit status."""
    from sts.cli import main as sts_main  # noqa: PLC0415 - lazy: only the sts commands need it

    return sts_main(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the ``vendgate`` command line.

    Args:
        argv: The arguments after the program name; ``None`` means ``sys.argv[1:]``.

    Returns:
        The process exit status.
    """
    parser = _build_parser()
    namespace = parser.parse_args(argv)
    if namespace.command == "sts":
        args: list[str] = namespace.args
        return _run_sts(args)
    if namespace.command == "vouchers":
        return run_vouchers(parser, namespace)
    if namespace.command == "check-ledger":
        return _check_ledger(parser, namespace)
    return _run_vending(parser, namespace)


def _remote_vend(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace, amount: int
) -> int:
    """``vend --url``: sell through a running gateway's partner API."""
    import asyncio  # noqa: PLC0415 - lazy, like the other commands
    from pathlib import Path  # noqa: PLC0415

    from gateway.api.commands import remote_vend  # noqa: PLC0415

    if not (namespace.key and namespace.secret_file):
        parser.exit(2, "vendgate: vend --url needs --key and --secret-file\n")
    try:
        secret = Path(namespace.secret_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        parser.exit(2, f"vendgate: cannot read the secret file: {exc.strerror}\n")
    return asyncio.run(
        remote_vend(
            namespace.url,
            namespace.key,
            secret,
            namespace.meter,
            amount,
            namespace.request_id,
        )
    )


def _run_vending(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> int:  # noqa: PLR0911 - one return per command
    """Run a command that needs the settings and the vending core."""
    import asyncio  # noqa: PLC0415 - lazy: --help and sts commands need none of this
    import os  # noqa: PLC0415

    from config.settings import ConfigError, Settings  # noqa: PLC0415
    from gateway import vending_commands as commands  # noqa: PLC0415

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        parser.exit(2, f"vendgate: configuration error: {exc}\n")
    match namespace.command:
        case "demo":
            asyncio.run(commands.demo(settings))
        case "demo-data":
            asyncio.run(commands.demo_data(settings))
        case "db":
            asyncio.run(commands.db_upgrade(settings))
        case "backup" | "restore":
            return asyncio.run(
                commands.backup_or_restore(settings, namespace.command, namespace.file)
            )
        case "api":
            from gateway.api.commands import create_client  # noqa: PLC0415 - lazy, like the rest

            return asyncio.run(
                create_client(
                    settings,
                    namespace.vendor,
                    name=namespace.name,
                    allowed_ips=tuple(namespace.allow_ip),
                )
            )
        case "admin":
            try:
                password = _read_password()
                return asyncio.run(_create_admin_user(settings, namespace, password))
            except ValueError as exc:
                parser.exit(2, f"vendgate: {exc}\n")
        case "serve":
            return _serve(parser, namespace, settings)
        case "vend":
            try:
                amount = commands.parse_amount(namespace.amount)
            except ValueError as exc:
                parser.exit(2, f"vendgate: {exc}\n")
            if namespace.url:
                return _remote_vend(parser, namespace, amount)
            return asyncio.run(
                commands.vend(settings, namespace.meter, amount, namespace.request_id)
            )
    return 0
