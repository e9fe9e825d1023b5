"""Run the Alembic migrations programmatically: ``alembic upgrade head`` from any directory.

The Alembic configuration is built in code (no ``alembic.ini``), with ``script_location``
pointing at the ``migrations`` package next to this module, so it works from any working
directory and from an installed distribution. The composition root or ``vendgate db upgrade``
calls :func:`upgrade_sync` (or awaits :func:`upgrade`) with ``settings.database_url``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from vending_core.adapters.db import create_engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
    "upgrade_sync",
]

MIGRATIONS_DIR: Final = Path(__file__).resolve().with_name("migrations")

_Command = Callable[[Config, str], None]  # alembic.command.upgrade / downgrade


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for Vendgate's migrations (and ``url``, for offline ``--sql``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': a URL-encoded password must not be read as a reference.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of Vendgate."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` in one transaction."""
    await _run(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop everything)."""
    await _run(url, command.downgrade, revision)


def upgrade_sync(url: str, revision: str = "head") -> None:
    """:func:`upgrade` for synchronous callers (the CLI); must not run inside an event loop."""
    asyncio.run(upgrade(url, revision))


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: never migrated)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def _run(url: str, operation: _Command, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_in_transaction, operation, revision)
    finally:
        await engine.dispose()


def _in_transaction(connection: Connection, operation: _Command, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    operation(config, revision)
