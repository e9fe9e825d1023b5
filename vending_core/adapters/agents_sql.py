"""The SQL repository of SMS agents (same style as :mod:`.payments_sql`).

Statements are built once at import and run on the unit of work's session. ``add`` is an
``INSERT ... ON CONFLICT DO NOTHING`` on the msisdn (a concurrent duplicate waits for the
first writer on PostgreSQL and is told "exists"); ``lock=True`` adds ``FOR UPDATE``
(PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so concurrent PIN
checks of one agent count their failures one at a time.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final

from sqlalchemy.dialects import postgresql, sqlite

from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import Repository, locked, select_where, update_where
from vending_core.adapters.tables_agents import agents
from vending_core.domain.agents import Agent, AgentStatus

__all__ = ["SqlAgentRepository"]

_FIELDS: Final = tuple(f.name for f in fields(Agent))
_INSERT = Statement(
    {
        "postgresql": postgresql.insert(agents).on_conflict_do_nothing(),
        "sqlite": sqlite.insert(agents).on_conflict_do_nothing(),
    },
    column_keys=_FIELDS,
)
_GET = Statement(select_where(agents, "msisdn"))
_GET_LOCKED = Statement(locked(select_where(agents, "msisdn"), agents))
_UPDATE = update_where(agents, "msisdn")


def _values(agent: Agent) -> dict[str, Any]:
    values = {name: getattr(agent, name) for name in _FIELDS}
    values["status"] = agent.status.value
    return values


def _agent(row: Row | None) -> Agent | None:
    if row is None:
        return None
    values = {name: row[name] for name in _FIELDS}
    values["status"] = AgentStatus(values["status"])
    return Agent(**values)


class SqlAgentRepository(Repository):
    """SMS agents by phone number."""

    __slots__ = ()

    async def add(self, agent: Agent) -> bool:
        """Insert the agent; False if its msisdn is already an agent."""
        return await self._execute(_INSERT, _values(agent)) == 1

    async def get(self, msisdn: str, *, lock: bool = False) -> Agent | None:
        """By phone number (``lock``: FOR UPDATE)."""
        return _agent(await self._first(_GET_LOCKED if lock else _GET, k_msisdn=msisdn))

    async def update(self, agent: Agent) -> None:
        """Store every field but the msisdn (RowNotFound if the agent is not stored)."""
        params = _values(agent)
        params["k_msisdn"] = params.pop("msisdn")
        await self._update(_UPDATE, params, "agent")
