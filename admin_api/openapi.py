"""The OpenAPI 3.1 document of ``/admin/v1``, generated from the route table and pydantic.

Each route name of :data:`admin_api.permissions.PERMISSIONS` has one entry here (method, path,
summary, body and query models); a test checks that the document and the router agree.
Request schemas come from the pydantic models, success responses from
:mod:`admin_api.responses`; every refusal (``4XX``/``5XX``) is ``application/problem+json``.
The minimum level of each operation is stated in ``x-min-level``.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from pydantic import BaseModel

from admin_api.masterdata_models import (
    DebtCreate,
    DebtUpdate,
    MeterInstall,
    MeterReplace,
    MeterUpdate,
    SupplyGroupCreate,
    TariffCreate,
    TariffQuery,
    TariffVersionCreate,
    TopUpRequest,
    VendingKeyUpload,
    VendorCreate,
    VendorQuery,
    VendorUpdate,
)
from admin_api.models import (
    ApiKeyRequest,
    AuditQuery,
    BlockRequest,
    CustomerCreate,
    CustomerQuery,
    CustomerUpdate,
    LoginRequest,
    MeterQuery,
    Page,
    QuoteRequest,
    ReprintRequest,
    ReversalRequest,
    SalesQuery,
    UserCreate,
    UserUpdate,
)
from admin_api.ops_models import (
    EngineeringRequest,
    KeyChangeRequest,
    MaintenanceAssign,
    MaintenanceOpen,
    MaintenanceQuery,
    MaintenanceResolve,
    ShiftQuery,
)
from admin_api.permissions import PERMISSIONS
from admin_api.report_models import (
    AbnormalQuery,
    DebtReportQuery,
    FreeIssueQuery,
    MaintenanceReportQuery,
    ReconciliationQuery,
    ReprintReportQuery,
    ReversalReportQuery,
    VendingQuery,
)
from admin_api.responses import response_schemas, responses_of
from admin_api.vouchers import VoucherBatchCreate, VoucherBatchFormat, VoucherVoidRequest

__all__ = ["OPERATIONS", "Operation", "document"]

_REF: Final = "#/components/schemas/"


class Operation(NamedTuple):
    """One route as the document describes it."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None


OPERATIONS: Final = {
    "openapi": Operation("get", "/openapi.json", "This document"),
    "login": Operation("post", "/login", "Log in: a bearer token for 8 hours", LoginRequest),
    "logout": Operation("post", "/logout", "Log out: the token stops working"),
    "me": Operation("get", "/me", "The calling user"),
    "users.list": Operation("get", "/users", "List users", query=Page),
    "users.create": Operation("post", "/users", "Create a user of a lower level", UserCreate),
    "users.update": Operation(
        "patch", "/users/{user_id}", "Change a user's area, allowed IPs or scopes", UserUpdate
    ),
    "users.disable": Operation("post", "/users/{user_id}/disable", "Disable a user"),
    "api_keys.create": Operation("post", "/api-keys", "Create a machine API key", ApiKeyRequest),
    "audit.list": Operation("get", "/audit", "Read the audit log", query=AuditQuery),
    "customers.list": Operation("get", "/customers", "List customers", query=CustomerQuery),
    "customers.get": Operation("get", "/customers/{customer_id}", "A customer"),
    "customers.create": Operation("post", "/customers", "Create a customer", CustomerCreate),
    "customers.update": Operation(
        "patch", "/customers/{customer_id}", "Change a customer", CustomerUpdate
    ),
    "meters.list": Operation("get", "/meters", "List meters", query=MeterQuery),
    "meters.get": Operation("get", "/meters/{number}", "A meter's owner and sale limits"),
    "meters.block": Operation("post", "/meters/{number}/block", "Block a meter", BlockRequest),
    "meters.unblock": Operation(
        "post", "/meters/{number}/unblock", "Unblock a meter", BlockRequest
    ),
    "pos.quote": Operation("post", "/pos/quotes", "Quote a POS sale", QuoteRequest),
    "pos.vend": Operation("post", "/pos/vends", "POS credit vend (idempotent)", QuoteRequest),
    "pos.reprint": Operation("post", "/pos/reprints", "Reprint a meter's tokens", ReprintRequest),
    "pos.reverse": Operation("post", "/pos/reversals", "Reverse a credit vend", ReversalRequest),
    "reports.sales": Operation("get", "/reports/sales", "Sales report", query=SalesQuery),
    "reports.vending": Operation(
        "get", "/reports/vending", "Sales with VAT; purchases per SGC/TI", query=VendingQuery
    ),
    "reports.free_issue": Operation(
        "get", "/reports/free-issue", "Free Basic Electricity issued", query=FreeIssueQuery
    ),
    "reports.debt": Operation(
        "get", "/reports/debt-recovery", "Debt recovered by sales", query=DebtReportQuery
    ),
    "reports.reversals": Operation(
        "get", "/reports/reversals", "Reversals by reversal time", query=ReversalReportQuery
    ),
    "reports.reprints": Operation(
        "get", "/reports/reprints", "Admin reprints (audit log)", query=ReprintReportQuery
    ),
    "reports.maintenance": Operation(
        "get", "/reports/maintenance", "Maintenance opened/resolved", query=MaintenanceReportQuery
    ),
    "reports.reconciliation": Operation(
        "get", "/reports/reconciliation", "Payments against vends", query=ReconciliationQuery
    ),
    "reports.abnormal": Operation(
        "get",
        "/reports/abnormal-customers",
        "Meters with no purchase in N days, or far below their history",
        query=AbnormalQuery,
    ),
    "tariffs.list": Operation("get", "/tariffs", "List tariffs", query=TariffQuery),
    "tariffs.get": Operation("get", "/tariffs/{code}", "A tariff with every version"),
    "tariffs.create": Operation("post", "/tariffs", "Create a tariff (version 1)", TariffCreate),
    "tariffs.add_version": Operation(
        "post", "/tariffs/{code}/versions", "Add a tariff version", TariffVersionCreate
    ),
    "supply_groups.list": Operation("get", "/supply-groups", "List supply groups", query=Page),
    "supply_groups.get": Operation("get", "/supply-groups/{sgc}", "A supply group"),
    "supply_groups.create": Operation(
        "post", "/supply-groups", "Create a supply group", SupplyGroupCreate
    ),
    "supply_groups.set_key": Operation(
        "put",
        "/supply-groups/{sgc}/keys/{krn}",
        "Store a vending key (write-only)",
        VendingKeyUpload,
    ),
    "meters.install": Operation("post", "/meters", "Install a meter", MeterInstall),
    "meters.update": Operation(
        "patch", "/meters/{number}", "Assign a meter or change its tariff", MeterUpdate
    ),
    "meters.replace": Operation(
        "post", "/meters/{number}/replace", "Replace a meter by a new one", MeterReplace
    ),
    "debts.list": Operation("get", "/meters/{number}/debts", "A meter's debts", query=Page),
    "debts.create": Operation("post", "/meters/{number}/debts", "Add a debt", DebtCreate),
    "debts.update": Operation(
        "patch", "/debts/{debt_id}", "Change or write off a debt", DebtUpdate
    ),
    "vendors.list": Operation("get", "/vendors", "List vendors", query=VendorQuery),
    "vendors.get": Operation("get", "/vendors/{code}", "A vendor with its float"),
    "vendors.create": Operation("post", "/vendors", "Create a vendor", VendorCreate),
    "vendors.update": Operation("patch", "/vendors/{code}", "Change a vendor", VendorUpdate),
    "vendors.top_up": Operation(
        "post", "/vendors/{code}/top-ups", "Top up a vendor's float (by reference)", TopUpRequest
    ),
    "vendors.entries": Operation(
        "get", "/vendors/{code}/entries", "A vendor's float ledger", query=Page
    ),
    "engineering.token": Operation(
        "post", "/engineering/tokens", "Issue an engineering token (idempotent)", EngineeringRequest
    ),
    "meters.key_change": Operation(
        "post", "/meters/{number}/key-change", "Key change token set (idempotent)", KeyChangeRequest
    ),
    "maintenance.open": Operation("post", "/maintenance", "Report a meter fault", MaintenanceOpen),
    "maintenance.list": Operation(
        "get", "/maintenance", "List maintenance requests", query=MaintenanceQuery
    ),
    "maintenance.assign": Operation(
        "post", "/maintenance/{maintenance_id}/assign", "Assign an engineer", MaintenanceAssign
    ),
    "maintenance.resolve": Operation(
        "post",
        "/maintenance/{maintenance_id}/resolve",
        "Resolve with a solution",
        MaintenanceResolve,
    ),
    "shifts.open": Operation("post", "/shifts", "Open a shift for the caller's vending point"),
    "shifts.list": Operation("get", "/shifts", "List shifts, newest first", query=ShiftQuery),
    "shifts.close": Operation("post", "/shifts/{shift_id}/close", "Close a shift"),
    "shifts.report": Operation("get", "/shifts/{shift_id}/report", "Shift report per operator"),
    "voucher_batches.list": Operation(
        "get", "/voucher-batches", "List scratch-card batches with counts", query=Page
    ),
    "voucher_batches.get": Operation(
        "get", "/voucher-batches/{batch}", "A batch's cards (never PINs)", query=Page
    ),
    "voucher_batches.create": Operation(
        "post",
        "/voucher-batches",
        "Issue a batch of scratch cards: the PINs are shown once",
        VoucherBatchCreate,
        VoucherBatchFormat,
    ),
    "voucher_batches.void": Operation(
        "post",
        "/voucher-batches/{batch}/void",
        "Void a batch's unredeemed cards",
        VoucherVoidRequest,
    ),
}
_PROBLEM: Final = {
    "description": "RFC 9457 problem",
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    },
}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    kinds = {"user_id": {"type": "integer"}, "customer_id": {"type": "integer"}}
    kinds |= {"maintenance_id": {"type": "integer"}, "shift_id": {"type": "integer"}}
    kinds |= {"debt_id": {"type": "integer"}, "krn": {"type": "integer"}}
    return [
        {"name": n, "in": "path", "required": True, "schema": kinds.get(n, {"type": "string"})}
        for n in names
    ]


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(name: str, op: Operation) -> dict[str, Any]:
    level = PERMISSIONS[name]
    out: dict[str, Any] = {
        "operationId": name,
        "summary": op.summary,
        "x-min-level": None if level is None else level.label,
        "responses": responses_of(name),
    }
    params = _path_params(op.path) + (_query_params(op.query) if op.query else [])
    if name in {"pos.vend", "engineering.token", "meters.key_change"}:  # Idempotency-Key
        key = {"type": "string", "minLength": 1, "maxLength": 100}
        params.append({"name": "Idempotency-Key", "in": "header", "required": True, "schema": key})
    if params:
        out["parameters"] = params
    if op.body is not None:
        ref = {"$ref": _REF + op.body.__name__}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    if level is not None:
        out["security"] = [{"bearer": []}]
    return out


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (server URL relative: ``/admin/v1``)."""
    paths: dict[str, dict[str, Any]] = {}
    for name, op in OPERATIONS.items():
        paths.setdefault(op.path, {})[op.method] = _operation(name, op)
    bodies = {op.body for op in OPERATIONS.values() if op.body is not None}
    schemas: dict[str, Any] = {}
    for model in sorted(bodies, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template=_REF + "{model}")
        schemas.update(schema.pop("$defs", {}))  # nested models (a tariff's blocks...)
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "Vendgate admin API", "version": "1.0.0"},
        "servers": [{"url": "/admin/v1"}],
        "paths": paths,
        "components": {
            "schemas": {**schemas, **response_schemas()},
            "responses": {"Problem": _PROBLEM},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
