"""Maintenance request use cases: assign an engineer, resolve with a solution.

Requests are opened with :func:`vending_core.service.operations.record_maintenance_request`.
Their status moves by the table :data:`TRANSITIONS` (a tiny state machine, h11-style): an
action not in the table for the current status raises :class:`MaintenanceTransitionError`
and changes nothing::

    open --assign--> assigned --resolve--> resolved
                     assigned --assign--> assigned   (another engineer takes it over)

Refusals are :class:`MaintenanceError` (a :class:`~vending_core.domain.errors.BackOfficeRefusal`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from vending_core.domain.errors import BackOfficeRefusal
from vending_core.domain.records import MaintenanceRequest, MaintenanceStatus
from vending_core.service.core import Core

__all__ = [
    "TRANSITIONS",
    "MaintenanceAction",
    "MaintenanceError",
    "MaintenanceTransitionError",
    "MaintenanceUnknownError",
    "assign_engineer",
    "resolve_request",
]


class MaintenanceError(BackOfficeRefusal):
    """A maintenance operation the core refuses."""

    code = "maintenance-refused"


class MaintenanceUnknownError(MaintenanceError):
    """No maintenance request has that id."""

    code = "maintenance-unknown"


class MaintenanceTransitionError(MaintenanceError):
    """The action is not allowed in the request's current status."""

    code = "maintenance-transition"


class MaintenanceAction(enum.StrEnum):
    """What staff do to a request."""

    ASSIGN = "assign"
    RESOLVE = "resolve"


_OPEN, _ASSIGNED, _RESOLVED = MaintenanceStatus
#: (action, status before) -> status after; anything else is refused.
TRANSITIONS: Final = {
    (MaintenanceAction.ASSIGN, _OPEN): _ASSIGNED,
    (MaintenanceAction.ASSIGN, _ASSIGNED): _ASSIGNED,
    (MaintenanceAction.RESOLVE, _ASSIGNED): _RESOLVED,
}


async def _move(
    core: Core,
    request_id: int,
    action: MaintenanceAction,
    change: Callable[[MaintenanceRequest], MaintenanceRequest],
) -> tuple[MaintenanceRequest, MaintenanceRequest]:
    async with core.uow() as uow:
        # Locked: a concurrent move waits, then judges the transition on this one's result.
        before = await uow.maintenance.get(request_id, lock=True)
        if before is None:
            raise MaintenanceUnknownError(f"no maintenance request {request_id}")
        status = TRANSITIONS.get((action, before.status))
        if status is None:
            raise MaintenanceTransitionError(
                f"cannot {action.value} maintenance request {request_id}: it is "
                f"{before.status.value}"
            )
        after = replace(change(before), status=status)
        await uow.maintenance.update(after)
        await uow.commit()
    return before, after


async def assign_engineer(
    core: Core, request_id: int, engineer: str
) -> tuple[MaintenanceRequest, MaintenanceRequest]:
    """Give an open (or assigned) request to ``engineer``; the request before and after."""
    return await _move(
        core, request_id, MaintenanceAction.ASSIGN, lambda r: replace(r, engineer=engineer)
    )


async def resolve_request(
    core: Core, request_id: int, solution: str
) -> tuple[MaintenanceRequest, MaintenanceRequest]:
    """Resolve an assigned request with what was done; the request before and after."""
    now = core.now()
    return await _move(
        core,
        request_id,
        MaintenanceAction.RESOLVE,
        lambda r: replace(r, solution=solution, resolved_at=now),
    )
