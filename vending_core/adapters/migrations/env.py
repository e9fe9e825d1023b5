"""Alembic's environment script: how a migration run gets its database connection.

:func:`vending_core.adapters.migrate.upgrade` opens a transaction on the engine built by
:func:`vending_core.adapters.db.create_engine` and hands its connection over in
``config.attributes["connection"]``; the migrations then run inside that one transaction
(atomic on PostgreSQL and on SQLite alike). Run from the ``alembic`` command line instead, the
URL comes from the ``sqlalchemy.url`` option. Offline mode (``--sql``) prints the SQL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from vending_core.adapters.db import create_engine
from vending_core.adapters.tables import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode does that for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or use vending_core.adapters.migrate")
    return url


def _main() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
    else:
        asyncio.run(_run_with_own_engine(_url()))


_main()
