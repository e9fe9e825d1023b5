"""Writing and reading the audit log from the admin handlers.

Operations run their own unit of work inside the vending core; their audit entry is appended
right after the operation succeeds, in a unit of work of its own (a refused operation changes
nothing and is not audited). ``GET /audit`` lists entries for administrators.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin_api.auth import remote_of
from admin_api.context import ADMIN_CORE, USER
from admin_api.models import AuditQuery
from vending_core.service.admin_accounts import record
from vending_core.service.admin_records import AuditEntry, AuditFilter

__all__ = ["audit", "entry_view", "list_audit"]


async def audit(
    request: web.Request, action: str, entity: str, entity_id: object, **change: Any
) -> None:
    """Append who (the request's user), when, from where and what; ``before``/``after``."""
    core = request.config_dict[ADMIN_CORE]
    async with core.uow() as uow:
        await record(
            uow,
            core.now(),
            request[USER],
            remote_of(request),
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            **change,
        )
        await uow.commit()


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as JSON."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "user_id": entry.user_id,
        "remote": entry.remote,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
    }


async def list_audit(request: web.Request) -> web.StreamResponse:
    """``GET /audit``: filtered by user, action, entity, period; paginated, oldest first."""
    query = AuditQuery.model_validate(dict(request.query))
    core = request.config_dict[ADMIN_CORE]
    wanted = AuditFilter(
        user_id=query.user_id,
        action=query.action,
        entity=query.entity,
        start=query.start,
        end=query.end,
        limit=query.limit,
        offset=query.offset,
    )
    async with core.uow() as uow:
        entries = await uow.admin.list_audit(wanted)
    items = [entry_view(e) for e in entries]
    return web.json_response({"items": items, "limit": query.limit, "offset": query.offset})
