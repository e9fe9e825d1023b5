"""The in-memory twin of the partner API client repository.

Its rows live in :class:`ApiClientTables`, one field of the memory database's tables, so the
memory unit of work copies, commits and rolls them back with everything else. As in the SQL
schema, the key id is unique and the vendor must exist.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from vending_core.service.api_records import ApiClient

__all__ = ["ApiClientTables", "MemoryApiClientRepository", "UnknownApiVendorError"]


class UnknownApiVendorError(Exception):
    """The client's vendor code is not a stored vendor (the database's foreign key refuses it)."""


@dataclass
class ApiClientTables:
    """The API client rows of one memory database, by key id."""

    clients: dict[str, ApiClient] = field(default_factory=dict)


class MemoryApiClientRepository:
    """``ports.ApiClientRepository`` over :class:`ApiClientTables`."""

    def __init__(self, tables: ApiClientTables, vendor_exists: Callable[[str], bool]) -> None:
        self._t = tables
        self._vendor_exists = vendor_exists

    async def add(self, client: ApiClient) -> bool:
        """Insert the client; False if its key id exists."""
        if client.key_id in self._t.clients:
            return False
        if not self._vendor_exists(client.vendor_code):
            raise UnknownApiVendorError(f"no vendor {client.vendor_code!r} is stored")
        self._t.clients[client.key_id] = copy.deepcopy(client)
        return True

    async def get(self, key_id: str) -> ApiClient | None:
        """By public key id (a copy)."""
        return copy.deepcopy(self._t.clients.get(key_id))
