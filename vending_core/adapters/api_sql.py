"""The SQL repository of partner API clients (same style as :mod:`.agents_sql`).

``add`` is an ``INSERT ... ON CONFLICT DO NOTHING`` on the key id, so a key id is never
reused; ``get`` reads one row by key id.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final

from sqlalchemy.dialects import postgresql, sqlite

from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import Repository, select_where
from vending_core.adapters.tables_api import api_clients
from vending_core.service.api_records import ApiClient

__all__ = ["SqlApiClientRepository"]

_FIELDS: Final = tuple(f.name for f in fields(ApiClient))
_INSERT = Statement(
    {
        "postgresql": postgresql.insert(api_clients).on_conflict_do_nothing(),
        "sqlite": sqlite.insert(api_clients).on_conflict_do_nothing(),
    },
    column_keys=_FIELDS,
)
_GET = Statement(select_where(api_clients, "key_id"))


def _values(client: ApiClient) -> dict[str, Any]:
    values = {name: getattr(client, name) for name in _FIELDS}
    values["allowed_ips"] = ",".join(client.allowed_ips)
    return values


def _client(row: Row | None) -> ApiClient | None:
    if row is None:
        return None
    values = {name: row[name] for name in _FIELDS}
    text: str = values["allowed_ips"]
    values["allowed_ips"] = tuple(part for part in text.split(",") if part)
    values["active"] = bool(values["active"])
    return ApiClient(**values)


class SqlApiClientRepository(Repository):
    """Partner API clients by key id."""

    __slots__ = ()

    async def add(self, client: ApiClient) -> bool:
        """Insert the client; False if its key id exists."""
        return await self._execute(_INSERT, _values(client)) == 1

    async def get(self, key_id: str) -> ApiClient | None:
        """By public key id."""
        return _client(await self._first(_GET, k_key_id=key_id))
