"""Handlers of the ``/reports/*`` routes and the CSV writer they share.

Every grouped report takes ``?from=&to=&by=&format=`` (models in
:mod:`admin_api.report_models`), reads through a read-only unit of work
(``uow.reports``: one aggregate query in the database) and answers JSON
``{"from", "to", "by", "items", "totals"}`` or, with ``format=csv``, a CSV download whose
header row is the item's field names. ``GET /reports/sales`` (in :mod:`admin_api.operations`)
keeps its own older columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from aiohttp import web

from admin_api.context import ADMIN_CORE
from admin_api.report_models import (
    AbnormalQuery,
    DebtReportQuery,
    FreeIssueQuery,
    MaintenanceReportQuery,
    ReconciliationQuery,
    ReportQuery,
    ReprintReportQuery,
    ReversalReportQuery,
    VendingQuery,
)
from vending_core.service.report_ports import ReportRepository
from vending_core.service.report_records import (
    AbnormalMeter,
    DebtRecoveryLine,
    FreeIssueLine,
    IdleMeter,
    MaintenanceLine,
    ReconciliationLine,
    ReprintLine,
    ReversalLine,
    VendingLine,
)

__all__ = ["ABNORMAL_COLUMNS", "add_report_routes", "csv_response"]

Fetch = Callable[[ReportRepository, datetime, datetime, str], Awaitable[Sequence[Any]]]
_IDLE_NAMES: Final = tuple(f.name for f in fields(IdleMeter))
_HISTORY_NAMES: Final = tuple(f.name for f in fields(AbnormalMeter))[len(_IDLE_NAMES) :]
#: The abnormal report's columns: the idle meter's, ``idle_days``, then its history's.
ABNORMAL_COLUMNS: Final = (*_IDLE_NAMES, "idle_days", *_HISTORY_NAMES)


class _Report(NamedTuple):
    """One grouped report: route, query model, repository call, line type."""

    path: str
    query: type[ReportQuery]
    fetch: Fetch
    line: type


_REPORTS: Final = {
    "reports.vending": _Report(
        "vending", VendingQuery, lambda r, a, b, by: r.vending(a, b, by), VendingLine
    ),
    "reports.free_issue": _Report(
        "free-issue", FreeIssueQuery, lambda r, a, b, by: r.free_issue(a, b, by), FreeIssueLine
    ),
    "reports.debt": _Report(
        "debt-recovery",
        DebtReportQuery,
        lambda r, a, b, by: r.debt_recovery(a, b, by),
        DebtRecoveryLine,
    ),
    "reports.reversals": _Report(
        "reversals", ReversalReportQuery, lambda r, a, b, by: r.reversals(a, b, by), ReversalLine
    ),
    "reports.reprints": _Report(
        "reprints", ReprintReportQuery, lambda r, a, b, by: r.reprints(a, b, by), ReprintLine
    ),
    "reports.maintenance": _Report(
        "maintenance",
        MaintenanceReportQuery,
        lambda r, a, b, by: r.maintenance(a, b, by),
        MaintenanceLine,
    ),
    "reports.reconciliation": _Report(
        "reconciliation",
        ReconciliationQuery,
        lambda r, a, b, by: r.reconciliation(a, b, by),
        ReconciliationLine,
    ),
}


def _cell(value: object) -> object:
    """A value as JSON or CSV shows it: times ISO 8601, None empty in CSV (null in JSON)."""
    return value.isoformat() if isinstance(value, datetime) else value


def csv_response(
    filename: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> web.Response:
    """A ``text/csv`` download: the header row, then the rows (RFC 4180 line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    response = web.Response(text=out.getvalue(), content_type="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _grouped_handler(report: _Report) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    columns = tuple(f.name for f in fields(report.line))

    async def handler(request: web.Request) -> web.StreamResponse:
        query = report.query.model_validate(dict(request.query))
        async with request.config_dict[ADMIN_CORE].read_uow() as uow:
            lines = await report.fetch(uow.reports, query.start, query.end, query.by)
        rows = [[getattr(line, name) for name in columns] for line in lines]
        if query.format == "csv":
            span = f"{query.start.date().isoformat()}-{query.end.date().isoformat()}"
            return csv_response(f"{report.path}-{query.by}-{span}", columns, rows)
        items = [dict(zip(columns, row, strict=True)) for row in rows]
        totals = {name: sum(item[name] for item in items) for name in columns[1:]}
        period = {"from": query.start.isoformat(), "to": query.end.isoformat(), "by": query.by}
        return web.json_response({**period, "items": items, "totals": totals})

    return handler


async def _abnormal(request: web.Request) -> web.StreamResponse:
    """``GET /reports/abnormal-customers?days=&below=&limit=&offset=&format=``.

    Idle meters, and with ``below`` those buying under ``below`` % of their own history.
    """
    query = AbnormalQuery.model_validate(dict(request.query))
    core = request.config_dict[ADMIN_CORE]
    now = core.now()
    before = now - timedelta(days=query.days)
    async with core.read_uow() as uow:
        found = await uow.reports.abnormal_meters(
            now, before, below=query.below or 0, limit=query.limit, offset=query.offset
        )
    rows = [
        [
            *(_cell(getattr(meter, name)) for name in _IDLE_NAMES),
            None if meter.last_purchase_at is None else (now - meter.last_purchase_at).days,
            *(getattr(meter, name) for name in _HISTORY_NAMES),
        ]
        for meter in found
    ]
    if query.format == "csv":
        return csv_response(f"abnormal-customers-{query.days}-days", ABNORMAL_COLUMNS, rows)
    items = [dict(zip(ABNORMAL_COLUMNS, row, strict=True)) for row in rows]
    page = {"days": query.days, "below": query.below, "since": before.isoformat()}
    return web.json_response({**page, "limit": query.limit, "offset": query.offset, "items": items})


def add_report_routes(app: web.Application) -> None:
    """Register the report routes (names as in ``PERMISSIONS``)."""
    for name, report in _REPORTS.items():
        app.router.add_get(f"/reports/{report.path}", _grouped_handler(report), name=name)
    app.router.add_get("/reports/abnormal-customers", _abnormal, name="reports.abnormal")
