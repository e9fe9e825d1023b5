"""The in-memory twin of the agent repository.

Its rows live in :class:`AgentTables`, one field of the memory database's tables, so the
memory unit of work (:mod:`vending_core.adapters.memory`) copies, commits and rolls them back
with everything else. As in the SQL schema, the msisdn is unique and the vendor must exist.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from vending_core.domain.agents import Agent

__all__ = ["AgentTables", "MemoryAgentRepository", "UnknownVendorError"]


class UnknownVendorError(Exception):
    """The agent's vendor code is not a stored vendor (the database's foreign key refuses it)."""


@dataclass
class AgentTables:
    """The agent rows of one memory database, by msisdn."""

    agents: dict[str, Agent] = field(default_factory=dict)


class MemoryAgentRepository:
    """``ports.AgentRepository`` over :class:`AgentTables`.

    ``vendor_exists`` answers whether a vendor code is stored (the foreign key's check).
    Locks are implicit: the memory unit of work serialises whole transactions.
    """

    def __init__(self, tables: AgentTables, vendor_exists: Callable[[str], bool]) -> None:
        self._t = tables
        self._vendor_exists = vendor_exists

    async def add(self, agent: Agent) -> bool:
        """Insert the agent; False if its msisdn is already an agent."""
        if agent.msisdn in self._t.agents:
            return False
        if not self._vendor_exists(agent.vendor_code):
            raise UnknownVendorError(f"no vendor {agent.vendor_code!r} is stored")
        self._t.agents[agent.msisdn] = copy.deepcopy(agent)
        return True

    async def get(self, msisdn: str, *, lock: bool = False) -> Agent | None:
        """By phone number (a copy: changes count only through ``update``)."""
        return copy.deepcopy(self._t.agents.get(msisdn))

    async def update(self, agent: Agent) -> None:
        """Store every field (KeyError if the agent is not stored)."""
        if agent.msisdn not in self._t.agents:
            raise KeyError(f"no stored agent {agent.msisdn!r} to update")
        self._t.agents[agent.msisdn] = copy.deepcopy(agent)
