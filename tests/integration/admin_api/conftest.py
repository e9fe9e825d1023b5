"""The admin sub-app on a real HTTP server over a migrated SQLite database with the demo data.

Mounted at ``/admin/v1`` on a parent app that holds the vending core, as ``gateway.app`` does.
The core's clock is settable, so token expiry and lockout are tested without sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from admin_api.app import create_admin_app
from admin_api.context import ADMIN_CORE
from tests.support.core_world import Clock
from vending_core.adapters.compose import sql_core
from vending_core.service.admin_accounts import create_user
from vending_core.service.admin_records import AdminLevel, AdminUser
from vending_core.service.core import Core
from vending_core.service.demo_data import load_demo_data

KEK = bytes(range(32))
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@dataclass
class Admin:
    """The running admin API and helpers to call it."""

    core: Core
    clock: Clock
    base: str
    http: aiohttp.ClientSession
    tokens: dict[AdminLevel, str] = field(default_factory=dict)
    created: set[AdminLevel] = field(default_factory=set)

    async def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """Send a request; the status and the parsed JSON body (text when not JSON)."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as r:
            text = await r.text()
            is_json = r.content_type.endswith("json")
            return r.status, (await r.json(content_type=None)) if is_json and text else text

    async def user(self, username: str, level: AdminLevel, area: str | None = None) -> AdminUser:
        """Create a user directly (as the command line does: no actor)."""
        draft = AdminUser(
            username=username, level=level, password_hash="", created_at=START, area=area
        )
        return await create_user(self.core, None, "cli", draft, PASSWORD)

    async def login(self, username: str, password: str = PASSWORD) -> str:
        """A bearer token for the user (the login must succeed)."""
        status, body = await self.call(
            "POST", "/login", json={"username": username, "password": password}
        )
        assert status == 200, body
        token: str = body["token"]
        return token

    async def token(self, level: AdminLevel) -> str:
        """A token of a user of ``level`` (created on first use; operators sell at DEMO-POS)."""
        if level not in self.created:
            area = "DEMO-POS" if level is AdminLevel.OPERATOR else None
            await self.user(level.label, level, area)
            self.created.add(level)
        if level not in self.tokens:
            self.tokens[level] = await self.login(level.label)
        return self.tokens[level]


@pytest.fixture
async def admin(sqlite_url: str) -> AsyncIterator[Admin]:
    """The admin API at ``/admin/v1`` with the demo utility loaded."""
    clock = Clock(START)
    async with sql_core(sqlite_url, KEK, clock=clock) as core:
        await load_demo_data(core)
        parent = web.Application()
        parent[ADMIN_CORE] = core
        parent.add_subapp("/admin/v1", create_admin_app())
        async with TestServer(parent) as server, aiohttp.ClientSession() as http:
            yield Admin(core, clock, str(server.make_url("/admin/v1")), http)
