"""Query models of the ``/reports/*`` routes: one period grammar for every report.

``from``/``to``: ISO 8601 with an offset, ``to`` exclusive and after ``from``; ``by``: the
grouping (each report accepts its own, see
:data:`vending_core.service.report_records.GROUPINGS`); ``format``: ``json`` or ``csv``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from admin_api.models import MAX_BIGINT, Instant

__all__ = [
    "AbnormalQuery",
    "DebtReportQuery",
    "FreeIssueQuery",
    "MaintenanceReportQuery",
    "ReconciliationQuery",
    "ReportQuery",
    "ReprintReportQuery",
    "ReversalReportQuery",
    "VendingQuery",
]

Format = Literal["json", "csv"]
_VEND_GROUPS = Literal["day", "month", "year", "channel", "vendor", "operator", "sgc", "ti"]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    format: Format = "json"


class ReportQuery(_Query):
    """``?from=&to=&by=&format=``: a period ``[from, to)`` of UTC-aware datetimes."""

    start: Annotated[Instant, Field(alias="from")]
    end: Annotated[Instant, Field(alias="to")]
    by: str = "day"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("'to' must be after 'from'")
        return self


class VendingQuery(ReportQuery):
    """Sales with VAT; ``sgc``/``ti``: purchases per supply group / tariff index."""

    by: _VEND_GROUPS = "day"


class FreeIssueQuery(ReportQuery):
    """Free Basic Electricity issued."""

    by: _VEND_GROUPS = "day"


class DebtReportQuery(ReportQuery):
    """Debt recovered; ``debt``: per debt item."""

    by: Literal["day", "month", "year", "channel", "vendor", "debt"] = "day"


class ReversalReportQuery(ReportQuery):
    """Reversals by reversal time; ``operator``: who authorised them."""

    by: Literal["day", "month", "year", "operator", "channel", "vendor"] = "day"


class ReprintReportQuery(ReportQuery):
    """Reprints through the admin API; ``operator``: the user."""

    by: Literal["day", "month", "year", "operator"] = "day"


class MaintenanceReportQuery(ReportQuery):
    """Maintenance requests opened and resolved; ``status``: by their current status."""

    by: Literal["day", "month", "year", "status"] = "day"


class ReconciliationQuery(ReportQuery):
    """Payments against vends."""

    by: Literal["day", "month", "year", "channel"] = "day"


class AbnormalQuery(_Query):
    """``?days=&below=&limit=&offset=&format=``: meters without a purchase in ``days`` days.

    ``below`` (percent, optional): also meters whose last 30 days' credit energy is under
    ``below`` % of their 12-month monthly average.
    """

    days: Annotated[int, Field(ge=1, le=3650)] = 90
    below: Annotated[int | None, Field(ge=1, le=99)] = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000
    offset: Annotated[int, Field(ge=0, le=MAX_BIGINT)] = 0
