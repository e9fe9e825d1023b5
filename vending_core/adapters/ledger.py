"""SQL repositories of the ledger: vends with their tokens, and idempotency keys.

See :mod:`vending_core.adapters.repositories` for how repositories use their connection.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite

from vending_core.adapters import rows as r
from vending_core.adapters import tables as t
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import (
    Clock,
    Repository,
    Session,
    by_id,
    insert_into,
    select_where,
    stored_id,
    update_where,
)
from vending_core.domain.records import StoredResponse, Vend

__all__ = ["SqlRequestRepository", "SqlVendRepository"]

_VEND_INSERT, _VEND_BY_ID, _VEND_UPDATE = by_id(t.vends)
_VENDS_OF_METER = Statement(
    select_where(t.vends, "meter_id").order_by(t.vends.c.id.desc()).limit(bindparam("k_limit"))
)
_TOKEN_INSERT = insert_into(t.vend_tokens)
_TOKENS_OF_VEND = Statement(
    select_where(t.vend_tokens, "vend_id").order_by(t.vend_tokens.c.sequence)
)
# The tokens of a meter's vends with ids in [k_first, k_last]: with the vends read first,
# exactly theirs (plus any of a vend committed in between, which are left out).
_TOKENS_OF_METER = Statement(
    select_where(t.vend_tokens, "meter_id")
    .where(t.vend_tokens.c.vend_id.between(bindparam("k_first"), bindparam("k_last")))
    .order_by(t.vend_tokens.c.vend_id, t.vend_tokens.c.sequence)
)
_VEND_COLUMNS_SKIP: Final = ("id", "tokens")


class SqlVendRepository(Repository):
    """Vends with their tokens: two statements to store one, two to read any number."""

    __slots__ = ()

    async def add(self, vend: Vend) -> int:
        """Store the vend, then all its tokens in one statement; returns the vend's id.

        Raises:
            DuplicateTid: A token repeats a TID of the same meter (this vend's or an earlier).
        """
        vend_id = await self._insert_id(_VEND_INSERT, r.to_row(vend, skip=_VEND_COLUMNS_SKIP))
        if vend.tokens:
            await self._session.execute_many(_TOKEN_INSERT, r.token_rows(vend_id, vend))
        return vend_id

    async def get(self, vend_id: int) -> Vend | None:
        """The vend with its tokens."""
        vends = await self._all(_VEND_BY_ID, k_id=vend_id)
        if not vends:
            return None
        return _with_tokens(vends, await self._all(_TOKENS_OF_VEND, k_vend_id=vend_id))[0]

    async def for_meter(self, meter_id: int, *, limit: int = 10) -> list[Vend]:
        """The meter's vends, newest first."""
        vends = await self._all(_VENDS_OF_METER, k_meter_id=meter_id, k_limit=limit)
        if not vends:
            return []
        tokens = await self._all(
            _TOKENS_OF_METER, k_meter_id=meter_id, k_first=vends[-1]["id"], k_last=vends[0]["id"]
        )
        return _with_tokens(vends, tokens)

    async def update(self, vend: Vend) -> None:
        """Store the vend's fields (a status change); its tokens never change."""
        params = r.to_row(vend, skip=_VEND_COLUMNS_SKIP) | {"k_id": stored_id(vend.id, "vend")}
        await self._update(_VEND_UPDATE, params, "vend")


def _with_tokens(vend_rows: list[Row], token_rows: list[Row]) -> list[Vend]:
    """Vends from their rows, each with its tokens (token rows in vend, sequence order)."""
    tokens: dict[int, list[Any]] = {row["id"]: [] for row in vend_rows}
    for row in token_rows:
        if row["vend_id"] in tokens:
            tokens[row["vend_id"]].append(r.token_from_row(row))
    return [r.vend_from_row(row, tokens[row["id"]]) for row in vend_rows]


_CLAIM = Statement(
    {
        "postgresql": postgresql.insert(t.requests).on_conflict_do_nothing(),
        "sqlite": sqlite.insert(t.requests).on_conflict_do_nothing(),
    },
    column_keys=("client_id", "request_id", "fingerprint", "created_at"),
)
_REQUEST = Statement(select_where(t.requests, "client_id", "request_id"))
_REQUEST_COMPLETE = update_where(
    t.requests, "client_id", "request_id", columns=("response", "vend_id")
)


class SqlRequestRepository(Repository):
    """Idempotency keys: ``INSERT ... ON CONFLICT DO NOTHING`` decides who got there first."""

    __slots__ = ("_clock",)

    def __init__(self, session: Session, clock: Clock) -> None:
        super().__init__(session)
        self._clock = clock

    async def claim(self, client_id: str, request_id: str, fingerprint: str) -> bool:
        """Insert the key; False if it exists.

        On PostgreSQL a concurrent claim of the same key waits for the first transaction:
        False once it commits, True if it rolls back. The transaction is never aborted.
        """
        values = {
            "client_id": client_id,
            "request_id": request_id,
            "fingerprint": fingerprint,
            "created_at": self._clock(),
        }
        return await self._execute(_CLAIM, values) == 1

    async def get(self, client_id: str, request_id: str) -> StoredResponse | None:
        """The key and the response stored under it (None while still running)."""
        row = await self._first(_REQUEST, k_client_id=client_id, k_request_id=request_id)
        return None if row is None else r.from_row(StoredResponse, row)

    async def complete(
        self, client_id: str, request_id: str, response: str, vend_id: int | None
    ) -> None:
        """Store the response (and vend) under a claimed key."""
        params = {
            "response": response,
            "vend_id": vend_id,
            "k_client_id": client_id,
            "k_request_id": request_id,
        }
        await self._update(_REQUEST_COMPLETE, params, "request")
