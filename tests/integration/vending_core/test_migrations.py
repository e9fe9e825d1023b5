"""The Alembic migrations build exactly the schema of ``vending_core.adapters.tables``.

On SQLite (a temporary file) and on PostgreSQL (a fresh database of this session).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection

from vending_core.adapters.db import create_engine
from vending_core.adapters.migrate import (
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from vending_core.adapters.tables import metadata
from vending_core.adapters.tables_admin import admin_users

_DATABASES = [
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=_DATABASES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    factory: Callable[[str], str] = request.getfixturevalue("postgres_database_factory")
    return factory("migrations")


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str, function: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(function)
    finally:
        await engine.dispose()


async def test_migrated_schema_equals_the_tables_module(empty_url: str) -> None:
    """After ``upgrade``, Alembic's autogenerate comparison finds no difference at all."""
    await upgrade(empty_url)
    assert await _inspect(empty_url, _diff) == []
    assert await current_revision(empty_url) == head_revision() == "0009"


async def test_upgrade_twice_is_a_no_op_and_downgrade_removes_everything(empty_url: str) -> None:
    """Upgrading twice is a no-op; downgrade to base leaves only Alembic's version table."""
    assert await current_revision(empty_url) is None
    await upgrade(empty_url)
    await upgrade(empty_url)
    assert await _inspect(empty_url, _tables) == {*metadata.tables, "alembic_version"}
    await downgrade(empty_url, "base")
    assert await _inspect(empty_url, _tables) == {"alembic_version"}
    assert await current_revision(empty_url) is None
    await upgrade(empty_url)
    assert await _inspect(empty_url, _diff) == []


async def test_0009_gives_existing_admin_users_no_scopes(empty_url: str) -> None:
    """A user stored at revision 0008 reads back an empty scope list after 0009.

    The empty list means every route of the user's level: existing users keep today's
    access. Downgrading to 0008 drops the column again and leaves the user.
    """
    await upgrade(empty_url, "0008")
    old = {"username": "old", "level": 4, "password_hash": "x", "status": "active"}
    old |= {"failed_logins": 0, "allowed_ips": "", "created_at": datetime(2026, 11, 25, tzinfo=UTC)}
    engine = create_engine(empty_url)
    try:  # only the columns of 0008 (``scopes`` has no Python default, so it is left out)
        async with engine.begin() as connection:
            await connection.execute(insert(admin_users).values(**old))
    finally:
        await engine.dispose()
    await upgrade(empty_url)

    def scopes(connection: Connection) -> list[Any]:
        rows = connection.execute(select(admin_users.c.username, admin_users.c.scopes))
        return [tuple(row) for row in rows]

    assert await _inspect(empty_url, scopes) == [("old", [])]
    await downgrade(empty_url, "0008")

    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("admin_users")}

    assert "scopes" not in await _inspect(empty_url, columns)


async def test_upgrade_works_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations are found next to the package; a relative SQLite path is the cwd's."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    await upgrade("sqlite+aiosqlite:///relative.sqlite3")
    assert (workdir / "relative.sqlite3").is_file()
    assert await current_revision("sqlite:///relative.sqlite3") == head_revision()
