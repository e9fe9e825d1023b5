"""The admin API on SQLite or PostgreSQL, for the master-data tests (fixture ``api``).

Like ``conftest.admin`` (same ``Admin`` helper, demo data, settable clock), but on the
backend named by the fixture's parameter: a fresh SQLite copy, or the session's migrated
PostgreSQL database emptied first (as ``postgres_engine`` does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from admin_api.app import create_admin_app
from admin_api.context import ADMIN_CORE
from tests.integration.admin_api.conftest import KEK, START, Admin
from tests.support.core_world import Clock
from vending_core.adapters.compose import sql_core
from vending_core.adapters.db import create_engine
from vending_core.adapters.tables import metadata
from vending_core.service.demo_data import load_demo_data

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _emptied(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await engine.dispose()


@asynccontextmanager
async def admin_on(request: pytest.FixtureRequest) -> AsyncIterator[Admin]:
    """The running admin API on the backend ``request.param`` with the demo data loaded."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("migrated_postgres_url")
        await _emptied(url)
    clock = Clock(START)
    async with sql_core(url, KEK, clock=clock) as core:
        await load_demo_data(core)
        parent = web.Application()
        parent[ADMIN_CORE] = core
        parent.add_subapp("/admin/v1", create_admin_app())
        async with TestServer(parent) as server, aiohttp.ClientSession() as http:
            yield Admin(core, clock, str(server.make_url("/admin/v1")), http)
