"""SQL repositories of messaging: the SMS outbox (with held delivery reports) and profiles.

In the style of :mod:`vending_core.adapters.ledger`: statements built once at import and
compiled per dialect (:mod:`vending_core.adapters.driver`), run on the unit of work's session.

The dispatcher's claim is ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent
dispatchers take different rows and never wait for each other; SQLite renders no ``FOR
UPDATE`` and serialises the claiming transactions with ``BEGIN IMMEDIATE`` instead. The rows
are then marked ``sending`` in the same transaction (one ``executemany``).

The dispatcher records a round's outcomes in one transaction, one statement per step:
``lock_many`` (``SELECT ... FOR UPDATE`` ordered by id), ``held_reports``, ``update_many``
(one ``executemany``), ``drop_reports``. The driver binds no expanding ``IN`` lists, so a
list of ids is one parameter: an array compared with ``= ANY`` on PostgreSQL, a JSON array
read with ``json_each`` on SQLite (:func:`_one_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Executable,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from vending_core.adapters import tables_messaging as t
from vending_core.adapters.driver import Row, Statement
from vending_core.adapters.sqlbase import (
    Repository,
    key_clause,
    locked,
    select_where,
    stored_id,
    update_where,
)
from vending_core.service.messaging_records import (
    HeldReport,
    OutboxMessage,
    OutboxStatus,
    PhoneProfile,
    ProfileMeter,
)

__all__ = ["SqlOutboxRepository", "SqlProfileRepository"]

_OUTBOX_COLUMNS: Final = tuple(f.name for f in fields(OutboxMessage) if f.name != "id")
_REPORT_COLUMNS: Final = tuple(f.name for f in fields(HeldReport))


def _upsert(
    table: Table, keys: Sequence[str], update: Sequence[str] = (), *, returning: str | None = None
) -> dict[str, Executable]:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` (or ``DO UPDATE SET update``) per dialect."""
    statements: dict[str, Executable] = {}
    for name, insert in (
        ("postgresql", postgresql.insert(table)),
        ("sqlite", sqlite.insert(table)),
    ):
        if update:
            changes = {column: insert.excluded[column] for column in update}
            statement = insert.on_conflict_do_update(index_elements=list(keys), set_=changes)
        else:
            statement = insert.on_conflict_do_nothing(index_elements=list(keys))
        statements[name] = statement.returning(table.c[returning]) if returning else statement
    return statements


_OUTBOX_INSERT = Statement(
    _upsert(t.sms_outbox, ["dedupe_key"], returning="id"), column_keys=_OUTBOX_COLUMNS
)
_OUTBOX_BY_ID = Statement(select_where(t.sms_outbox, "id"))
_OUTBOX_BY_ID_LOCKED = Statement(locked(select_where(t.sms_outbox, "id")))
_OUTBOX_BY_KEY = Statement(select_where(t.sms_outbox, "dedupe_key"))
_BY_PROVIDER = select_where(t.sms_outbox, "provider", "provider_message_id")
_OUTBOX_BY_PROVIDER = Statement(_BY_PROVIDER)
_OUTBOX_BY_PROVIDER_LOCKED = Statement(locked(_BY_PROVIDER))
_c = t.sms_outbox.c
_OUTBOX_DUE = Statement(
    select(t.sms_outbox)
    .where(
        or_(
            and_(_c.status == OutboxStatus.QUEUED.value, _c.next_attempt_at <= bindparam("k_now")),
            and_(_c.status == OutboxStatus.SENDING.value, _c.lease_until <= bindparam("k_now2")),
        )
    )
    .order_by(_c.next_attempt_at, _c.id)
    .limit(bindparam("k_limit"))
    .with_for_update(skip_locked=True)
)
_OUTBOX_CLAIM = update_where(
    t.sms_outbox, "id", columns=("status", "lease_until", "attempts", "updated_at")
)
_OUTBOX_UPDATE = update_where(t.sms_outbox, "id")


def _one_of(
    column: ColumnElement[Any], item: type[BigInteger | String]
) -> dict[str, ColumnElement[bool]]:
    """``column`` is one of the list bound to ``k_ids``, per dialect (one parameter)."""
    values = func.json_each(bindparam("k_ids", type_=JSON)).table_valued("value")
    return {
        "postgresql": column == any_(bindparam("k_ids", type_=postgresql.ARRAY(item()))),
        "sqlite": column.in_(select(values.c.value)),
    }


_OUTBOX_LOCK_MANY = Statement(
    {
        dialect: locked(select(t.sms_outbox).where(clause).order_by(_c.id))
        for dialect, clause in _one_of(_c.id, BigInteger).items()
    }
)

_REPORT = Statement(select_where(t.sms_delivery_reports, "provider", "provider_message_id"))
_REPORT_UPSERT = Statement(
    _upsert(
        t.sms_delivery_reports,
        ["provider", "provider_message_id"],
        ["status", "failure_reason", "received_at"],
    ),
    column_keys=_REPORT_COLUMNS,
)
_REPORT_DELETE = Statement(
    delete(t.sms_delivery_reports).where(
        key_clause(t.sms_delivery_reports, "provider", "provider_message_id")
    )
)
_r = t.sms_delivery_reports.c
_REPORT_IDS = {
    dialect: and_(_r.provider == bindparam("k_provider"), clause)
    for dialect, clause in _one_of(_r.provider_message_id, String).items()
}
_REPORTS = Statement(
    {dialect: select(t.sms_delivery_reports).where(c) for dialect, c in _REPORT_IDS.items()}
)
_REPORTS_DELETE = Statement(
    {dialect: delete(t.sms_delivery_reports).where(c) for dialect, c in _REPORT_IDS.items()}
)


def _message(row: Row) -> OutboxMessage:
    values = {name: row[name] for name in ("id", *_OUTBOX_COLUMNS)}
    values["status"] = OutboxStatus(values["status"])
    return OutboxMessage(**values)


def _columns(message: OutboxMessage) -> dict[str, Any]:
    values = {name: getattr(message, name) for name in _OUTBOX_COLUMNS}
    values["status"] = message.status.value
    return values


class SqlOutboxRepository(Repository):
    """``ports.OutboxRepository`` on SQL (see the module docstring for the claim)."""

    __slots__ = ()

    async def add(self, message: OutboxMessage) -> OutboxMessage | None:
        """Insert unless the dedupe key exists (then None; a concurrent insert waits)."""
        rows = await self._session.fetch(_OUTBOX_INSERT, _columns(message))
        if not rows:
            return None
        return OutboxMessage(**{**_columns(message), "status": message.status, "id": rows[0]["id"]})

    async def get(self, message_id: int, *, lock: bool = False) -> OutboxMessage | None:
        """The message with that id (``lock``: held until the unit of work ends)."""
        statement = _OUTBOX_BY_ID_LOCKED if lock else _OUTBOX_BY_ID
        row = await self._first(statement, k_id=message_id)
        return None if row is None else _message(row)

    async def get_by_key(self, dedupe_key: str) -> OutboxMessage | None:
        """The message with that dedupe key."""
        row = await self._first(_OUTBOX_BY_KEY, k_dedupe_key=dedupe_key)
        return None if row is None else _message(row)

    async def get_by_provider_id(
        self, provider: str, provider_message_id: str, *, lock: bool = False
    ) -> OutboxMessage | None:
        """The message the provider knows by that id."""
        statement = _OUTBOX_BY_PROVIDER_LOCKED if lock else _OUTBOX_BY_PROVIDER
        row = await self._first(
            statement, k_provider=provider, k_provider_message_id=provider_message_id
        )
        return None if row is None else _message(row)

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due rows no one else holds; mark them ``sending``."""
        rows = await self._all(_OUTBOX_DUE, k_now=now, k_now2=now, k_limit=limit)
        claimed = [
            OutboxMessage(
                **{
                    **_columns(_message(row)),
                    "id": row["id"],
                    "status": OutboxStatus.SENDING,
                    "lease_until": lease_until,
                    "attempts": row["attempts"] + 1,
                    "updated_at": now,
                }
            )
            for row in rows
        ]
        if claimed:
            await self._session.execute_many(_OUTBOX_CLAIM, [_claim(m) for m in claimed])
        return claimed

    async def update(self, message: OutboxMessage) -> None:
        """Store every field of a stored message."""
        params = _columns(message) | {"k_id": stored_id(message.id, "outbox message")}
        await self._update(_OUTBOX_UPDATE, params, "outbox message")

    async def lock_many(self, message_ids: Sequence[int]) -> list[OutboxMessage]:
        """The stored messages among ``message_ids``, ordered by id, locked in that order."""
        if not message_ids:
            return []
        rows = await self._all(_OUTBOX_LOCK_MANY, k_ids=sorted(set(message_ids)))
        return [_message(row) for row in rows]

    async def update_many(self, messages: Sequence[OutboxMessage]) -> None:
        """Store every field of each message, in one ``executemany`` (counts unchecked)."""
        if messages:
            params = [_columns(m) | {"k_id": stored_id(m.id, "outbox message")} for m in messages]
            await self._session.execute_many(_OUTBOX_UPDATE, params)

    async def held_report(self, provider: str, provider_message_id: str) -> HeldReport | None:
        """The report held for that provider message id."""
        row = await self._first(
            _REPORT, k_provider=provider, k_provider_message_id=provider_message_id
        )
        return None if row is None else _report(row)

    async def held_reports(
        self, provider: str, provider_message_ids: Sequence[str]
    ) -> list[HeldReport]:
        """The reports held for any of those ids of ``provider`` (one SELECT)."""
        if not provider_message_ids:
            return []
        ids = list(dict.fromkeys(provider_message_ids))
        return [_report(row) for row in await self._all(_REPORTS, k_provider=provider, k_ids=ids)]

    async def hold_report(self, report: HeldReport) -> None:
        """Insert or replace the held report of that provider message id."""
        await self._execute(_REPORT_UPSERT, {n: getattr(report, n) for n in _REPORT_COLUMNS})

    async def drop_report(self, provider: str, provider_message_id: str) -> None:
        """Forget the held report (it has been applied)."""
        values = {"k_provider": provider, "k_provider_message_id": provider_message_id}
        await self._execute(_REPORT_DELETE, values)

    async def drop_reports(self, provider: str, provider_message_ids: Sequence[str]) -> None:
        """Forget the held reports of those ids of ``provider`` (one DELETE)."""
        if provider_message_ids:
            ids = list(dict.fromkeys(provider_message_ids))
            await self._execute(_REPORTS_DELETE, {"k_provider": provider, "k_ids": ids})


def _report(row: Row) -> HeldReport:
    return HeldReport(**{name: row[name] for name in _REPORT_COLUMNS})


def _claim(message: OutboxMessage) -> Mapping[str, Any]:
    return {
        "status": message.status.value,
        "lease_until": message.lease_until,
        "attempts": message.attempts,
        "updated_at": message.updated_at,
        "k_id": message.id,
    }


_PROFILE = Statement(select_where(t.phone_profiles, "msisdn"))
_PROFILE_LOCKED = Statement(locked(select_where(t.phone_profiles, "msisdn")))
_PROFILE_METERS = Statement(
    select_where(t.saved_meters, "msisdn").order_by(
        t.saved_meters.c.position, t.saved_meters.c.meter_number
    )
)
_PROFILE_ENSURE = Statement(
    _upsert(t.phone_profiles, ["msisdn"]), column_keys=("msisdn", "language", "updated_at")
)
_PROFILE_LANGUAGE = Statement(
    _upsert(t.phone_profiles, ["msisdn"], ["language", "updated_at"]),
    column_keys=("msisdn", "language", "updated_at"),
)
_METER_SAVE = Statement(
    _upsert(t.saved_meters, ["msisdn", "meter_number"], ["name", "position"]),
    column_keys=("msisdn", "meter_number", "name", "position"),
)
_METER_REMOVE = Statement(
    delete(t.saved_meters).where(key_clause(t.saved_meters, "msisdn", "meter_number"))
)


class SqlProfileRepository(Repository):
    """``ports.ProfileRepository`` on SQL: upserts, and the profile row as the phone's lock."""

    __slots__ = ()

    async def get(self, msisdn: str) -> PhoneProfile | None:
        """The phone's language and meters (None: nothing stored for it)."""
        row = await self._first(_PROFILE, k_msisdn=msisdn)
        if row is None:
            return None
        meters = await self._all(_PROFILE_METERS, k_msisdn=msisdn)
        return PhoneProfile(
            msisdn=msisdn,
            language=row["language"],
            meters=tuple(ProfileMeter(number=m["meter_number"], name=m["name"]) for m in meters),
        )

    async def lock(self, msisdn: str, at: datetime) -> None:
        """Create the profile row if missing and lock it until the unit of work ends."""
        values = {"msisdn": msisdn, "language": None, "updated_at": at}
        await self._execute(_PROFILE_ENSURE, values)
        await self._all(_PROFILE_LOCKED, k_msisdn=msisdn)

    async def set_language(self, msisdn: str, language: str | None, at: datetime) -> None:
        """Insert or update the phone's language."""
        values = {"msisdn": msisdn, "language": language, "updated_at": at}
        await self._execute(_PROFILE_LANGUAGE, values)

    async def save_meter(self, msisdn: str, meter: ProfileMeter, position: int) -> None:
        """Insert the meter, or update its name and position."""
        values = {
            "msisdn": msisdn,
            "meter_number": meter.number,
            "name": meter.name,
            "position": position,
        }
        await self._execute(_METER_SAVE, values)

    async def remove_meter(self, msisdn: str, number: str) -> bool:
        """Delete the meter from the list; False if it was not there."""
        values = {"k_msisdn": msisdn, "k_meter_number": number}
        return await self._execute(_METER_REMOVE, values) > 0
