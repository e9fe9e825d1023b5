"""What ``/admin/v1`` answers, described for the OpenAPI document (pydantic v2 models).

The handlers build their JSON by hand; these models only *describe* it, so the document
states the status and body of every success and the schemathesis property test
(``tests/e2e/test_admin_schemathesis.py``) can check each answer against it. The models
forbid unknown fields (``additionalProperties: false``): a field added to a handler must be
added here too, or the property test fails.

:data:`RESPONSES` maps a route name to its success statuses and their media types (the
reports' models are in :mod:`admin_api.responses_reports`, the master-data and operations
routes' in :mod:`admin_api.responses_more`). A route without an entry would be documented as
``2XX`` without a body schema (every route has one). Every route also documents ``4XX`` and
``5XX`` as RFC 9457 problem JSON.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from admin_api.models import LevelName
from admin_api.responses_more import (
    DebtPage,
    DebtView,
    KeyStoredAnswer,
    MaintenancePage,
    MaintenanceView,
    MeterRecord,
    MeterReplaced,
    NewVoucherBatch,
    ShiftPage,
    ShiftReport,
    ShiftView,
    SupplyGroupDetail,
    SupplyGroupPage,
    SupplyGroupView,
    TariffHistory,
    TariffPage,
    TariffView,
    TopUpAnswer,
    VendorEntryPage,
    VendorPage,
    VendorView,
    VoucherBatchDetail,
    VoucherBatchPage,
    VoucherBatchVoided,
)
from admin_api.responses_reports import (
    AbnormalReport,
    DebtRecoveryReport,
    FreeIssueReport,
    MaintenanceReport,
    ReconciliationReport,
    ReprintReport,
    ReversalReport,
    VendingReport,
)
from vending_core.domain.model import MeterStatus
from vending_core.domain.records import TokenKind, VendKind, VendStatus
from vending_core.service.admin_records import UserStatus

__all__ = ["RESPONSES", "response_schemas", "responses_of"]

_REF: Final = "#/components/schemas/"
_PROBLEM_REF: Final = {"$ref": "#/components/responses/Problem"}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserView(_Out):
    """A user (never the password hash)."""

    id: int
    username: str
    level: LevelName
    area: str | None
    status: UserStatus
    allowed_ips: list[str]
    scopes: list[str]
    locked_until: AwareDatetime | None


class LoginAnswer(_Out):
    """A bearer token valid until ``expires_at``, and its user."""

    token: str
    token_type: Literal["Bearer"]
    expires_at: AwareDatetime
    user: UserView


class UserPage(_Out):
    """One page of users."""

    items: list[UserView]
    limit: int
    offset: int


class ApiKeyAnswer(_Out):
    """A new machine key, shown this once."""

    name: str
    key: str


class AuditEntryView(_Out):
    """One audit entry; ``before``/``after`` are what changed (never secrets)."""

    id: int
    at: AwareDatetime
    user_id: int | None
    remote: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(_Out):
    """One page of the audit log, oldest first."""

    items: list[AuditEntryView]
    limit: int
    offset: int


class CustomerView(_Out):
    """A customer account."""

    id: int
    account_number: str
    name: str
    address: str
    phones: list[str]
    language: str


class CustomerPage(_Out):
    """One page of customers."""

    items: list[CustomerView]
    limit: int
    offset: int


class MeterView(_Out):
    """A meter in a list: STS data, tariff, owner, status."""

    id: int
    number: str
    sgc: str
    ti: int
    krn: int
    ea: int
    tariff_code: str
    customer_id: int | None
    status: MeterStatus
    blocked_reason: str | None
    last_purchase_at: AwareDatetime | None


class MeterPage(_Out):
    """One page of meters."""

    items: list[MeterView]
    limit: int
    offset: int


class MeterInfo(_Out):
    """A meter's owner, whether it can be sold to (else why), and its sale limits."""

    meter_number: str
    utility: str
    name: str
    address: str
    can_vend: bool
    reason: str | None
    fbe_due_tenths: int
    min_amount: int
    max_amount: int | None
    language: str


class MeterStatusAnswer(_Out):
    """A meter's status after a block or unblock."""

    meter_number: str
    status: Literal["active", "blocked"]


class StepView(_Out):
    """Energy delivered at one rate (minor units per unit, VAT excluded, as text)."""

    tenths: int
    rate: str


class DebtLineView(_Out):
    """What the purchase recovers of one debt (``amount`` includes ``vat``)."""

    debt_id: int | None
    amount: int
    vat: int
    outstanding_after: int


class QuoteView(_Out):
    """The priced split of an amount (minor units; energy in tenths of a unit)."""

    gross: int
    energy_net: int
    energy_vat: int
    fixed_net: int
    fixed_vat: int
    service_net: int
    service_vat: int
    debt_lines: list[DebtLineView]
    credit_tenths: int
    fbe_tenths: int
    steps: list[StepView]
    residue: str
    month: str
    month_tenths_after: int
    charged_up_to_after: date | None
    charges_owing_after: int | None
    tariff_code: str
    tariff_version: int


class TokenView(_Out):
    """One token of a receipt, in entry order."""

    kind: TokenKind
    token: str
    tid: int | None
    tenths: int | None
    description: str


class ReceiptLine(_Out):
    """One money line of a receipt (the lines sum to ``gross``)."""

    label: str
    amount: int


class Receipt(_Out):
    """A vend as a receipt, with its tokens."""

    vend_id: int
    kind: VendKind
    status: VendStatus
    meter_number: str
    customer_name: str
    created_at: AwareDatetime
    gross: int
    tokens: list[TokenView]
    lines: list[ReceiptLine]
    steps: list[str]
    credit_tenths: int
    fbe_tenths: int
    tariff: str | None


class ReprintAnswer(_Out):
    """The meter's last vends, newest first."""

    vends: list[Receipt]


class SalesLineView(_Out):
    """One group of the sales report (minor units)."""

    key: str
    sales: int
    gross: int
    commission: int
    reversals: int
    reversed_gross: int


class SalesTotals(_Out):
    """The sums over all groups."""

    sales: int
    gross: int
    commission: int
    reversals: int
    reversed_gross: int


class SalesReport(_Out):
    """Credit sales in ``[from, to)`` grouped by day, channel or vendor."""

    start: Annotated[AwareDatetime, Field(alias="from")]
    end: Annotated[AwareDatetime, Field(alias="to")]
    by: Literal["day", "channel", "vendor"]
    items: list[SalesLineView]
    totals: SalesTotals


#: The document itself: an OpenAPI 3.1 object (not described further here).
_DOCUMENT: Final = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {"openapi": {"const": "3.1.0"}},
}
_CSV: Final = {"type": "string", "description": "RFC 4180 CSV with a header row"}
_CARDS_CSV: Final = {"type": "string", "description": "RFC 4180 CSV: serial,pin"}

Content = dict[str, type[BaseModel] | dict[str, Any]]  #: media type -> model or raw schema


def _json(model: type[BaseModel]) -> Content:
    return {"application/json": model}


def _report(model: type[BaseModel]) -> dict[str, Content]:
    """200 with the report as JSON, or as CSV with ``format=csv``."""
    return {"200": {**_json(model), "text/csv": _CSV}}


#: Route name -> success status -> content (an empty content: no body).
RESPONSES: Final[dict[str, dict[str, Content]]] = {
    "openapi": {"200": {"application/json": _DOCUMENT}},
    "login": {"200": _json(LoginAnswer)},
    "logout": {"204": {}},
    "me": {"200": _json(UserView)},
    "users.list": {"200": _json(UserPage)},
    "users.create": {"201": _json(UserView)},
    "users.update": {"200": _json(UserView)},
    "users.disable": {"200": _json(UserView)},
    "api_keys.create": {"201": _json(ApiKeyAnswer)},
    "audit.list": {"200": _json(AuditPage)},
    "customers.list": {"200": _json(CustomerPage)},
    "customers.get": {"200": _json(CustomerView)},
    "customers.create": {"201": _json(CustomerView)},
    "customers.update": {"200": _json(CustomerView)},
    "meters.list": {"200": _json(MeterPage)},
    "meters.get": {"200": _json(MeterInfo)},
    "meters.block": {"200": _json(MeterStatusAnswer)},
    "meters.unblock": {"200": _json(MeterStatusAnswer)},
    "pos.quote": {"200": _json(QuoteView)},
    "pos.vend": {"200": _json(Receipt), "201": _json(Receipt)},  # 200: a replayed key
    "pos.reprint": {"200": _json(ReprintAnswer)},
    "pos.reverse": {"200": _json(Receipt)},
    "reports.sales": {"200": {**_json(SalesReport), "text/csv": _CSV}},
    "reports.vending": _report(VendingReport),
    "reports.free_issue": _report(FreeIssueReport),
    "reports.debt": _report(DebtRecoveryReport),
    "reports.reversals": _report(ReversalReport),
    "reports.reprints": _report(ReprintReport),
    "reports.maintenance": _report(MaintenanceReport),
    "reports.reconciliation": _report(ReconciliationReport),
    "reports.abnormal": _report(AbnormalReport),
    "tariffs.list": {"200": _json(TariffPage)},
    "tariffs.get": {"200": _json(TariffHistory)},
    "tariffs.create": {"201": _json(TariffView)},
    "tariffs.add_version": {"201": _json(TariffView)},
    "supply_groups.list": {"200": _json(SupplyGroupPage)},
    "supply_groups.get": {"200": _json(SupplyGroupDetail)},
    "supply_groups.create": {"201": _json(SupplyGroupView)},
    "supply_groups.set_key": {"201": _json(KeyStoredAnswer)},
    "meters.install": {"201": _json(MeterRecord)},
    "meters.update": {"200": _json(MeterRecord)},
    "meters.replace": {"201": _json(MeterReplaced)},
    "debts.list": {"200": _json(DebtPage)},
    "debts.create": {"201": _json(DebtView)},
    "debts.update": {"200": _json(DebtView)},
    "vendors.list": {"200": _json(VendorPage)},
    "vendors.get": {"200": _json(VendorView)},
    "vendors.create": {"201": _json(VendorView)},
    "vendors.update": {"200": _json(VendorView)},
    "vendors.top_up": {"200": _json(TopUpAnswer), "201": _json(TopUpAnswer)},  # 200: replay
    "vendors.entries": {"200": _json(VendorEntryPage)},
    "engineering.token": {"200": _json(Receipt), "201": _json(Receipt)},  # 200: replay
    "meters.key_change": {"200": _json(Receipt), "201": _json(Receipt)},  # 200: replay
    "maintenance.open": {"201": _json(MaintenanceView)},
    "maintenance.list": {"200": _json(MaintenancePage)},
    "maintenance.assign": {"200": _json(MaintenanceView)},
    "maintenance.resolve": {"200": _json(MaintenanceView)},
    "shifts.open": {"201": _json(ShiftView)},
    "shifts.list": {"200": _json(ShiftPage)},
    "shifts.close": {"200": _json(ShiftView)},
    "shifts.report": {"200": _json(ShiftReport)},
    "voucher_batches.list": {"200": _json(VoucherBatchPage)},
    "voucher_batches.get": {"200": _json(VoucherBatchDetail)},
    # the PINs as JSON, or as CSV for the printer (?format=csv or Accept: text/csv)
    "voucher_batches.create": {"201": {**_json(NewVoucherBatch), "text/csv": _CARDS_CSV}},
    "voucher_batches.void": {"200": _json(VoucherBatchVoided)},
}
_DESCRIPTIONS: Final = {"200": "OK", "201": "Created", "204": "No content"}


def _schema(source: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    return {"$ref": _REF + source.__name__}


def responses_of(name: str) -> dict[str, Any]:
    """The ``responses`` object of route ``name``: its successes, then 4XX/5XX problems."""
    spec = RESPONSES.get(name)
    out: dict[str, Any] = {}
    if spec is None:
        out["2XX"] = {"description": "Success (body not described yet)"}
    for status, content in (spec or {}).items():
        out[status] = {"description": _DESCRIPTIONS.get(status, "Success")}
        if content:
            out[status]["content"] = {
                media: {"schema": _schema(source)} for media, source in content.items()
            }
    out["4XX"] = _PROBLEM_REF
    out["5XX"] = _PROBLEM_REF
    return out


@cache
def response_schemas() -> dict[str, Any]:
    """The component schemas of every response model (nested ones included)."""
    models = {
        source
        for spec in RESPONSES.values()
        for content in spec.values()
        for source in content.values()
        if isinstance(source, type)
    }
    ordered = sorted(models, key=lambda model: model.__name__)
    _, top = models_json_schema(
        [(model, "serialization") for model in ordered], ref_template=_REF + "{model}"
    )
    defs: dict[str, Any] = top.get("$defs", {})
    return defs
