"""Handlers of scratch-card batches: issue (PINs shown once), list, one batch, void.

``POST /voucher-batches`` makes ``count`` cards through
:func:`vending_core.service.voucher_batches.issue_batch` (16-digit PINs from a CSPRNG,
stored only as their keyed hashes) and answers with the printable list, once: JSON, or CSV
for the printer with ``?format=csv`` or ``Accept: text/csv``; the answer is ``no-store``.
The PINs exist in that response only: not in the database, the audit log (batch, count,
face value, serials) or the logs. Lists are summed up in the database.

The composition root puts :data:`VOUCHER_ISSUER` (the PIN salt the redemption path uses
and the currency the gateway sells in) on the parent app; without it issuing is 503
``vouchers-unavailable``. Cards in another currency could never be redeemed, so a batch
must be in that currency.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from admin_api.audit import audit
from admin_api.context import ADMIN_CORE
from admin_api.models import Amount, Page, Reason
from admin_api.problems import problem
from vending_core.domain.errors import VendingError
from vending_core.domain.payments import Voucher
from vending_core.domain.vouchers import MAX_BATCH_SIZE, VoucherBatch
from vending_core.service.core import Core
from vending_core.service.voucher_batches import issue_batch, void_batch

__all__ = [
    "VOUCHER_ISSUER",
    "VoucherBatchCreate",
    "VoucherBatchFormat",
    "VoucherIssuer",
    "VoucherVoidRequest",
    "add_voucher_routes",
]

_STATUS: Final = {
    "voucher-batch-invalid": 400,
    "voucher-batch-exists": 409,
    "voucher-batch-unknown": 404,
}
_CSV: Final = "text/csv"


@dataclass(frozen=True, slots=True)
class VoucherIssuer:
    """What issuing needs from the deployment: the PIN hashing salt and the currency."""

    salt: bytes = field(repr=False)
    currency: str


#: Set by the composition root (``gateway.app``) on the parent app.
VOUCHER_ISSUER: Final = web.AppKey("admin_voucher_issuer", VoucherIssuer)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoucherBatchCreate(_Body):
    """A new batch: its unique name, how many cards, each card's face value (minor units)."""

    batch: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,24}$", examples=["2026-11-A"])
    ]
    count: Annotated[int, Field(ge=1, le=MAX_BATCH_SIZE, strict=True)]
    face_value: Amount
    currency: Annotated[
        str | None, Field(pattern=r"^[A-Z]{3}$", description="default: the gateway's")
    ] = None


class VoucherBatchFormat(_Body):
    """``?format=json|csv``: how the new cards are answered (``Accept: text/csv`` also works)."""

    format: Literal["json", "csv"] = "json"


class VoucherVoidRequest(_Body):
    """Why the batch's unredeemed cards are voided (recorded in the audit log)."""

    reason: Reason


def _core(request: web.Request) -> Core:
    return request.config_dict[ADMIN_CORE]


def _refused(exc: VendingError) -> web.Response:
    return problem(_STATUS.get(exc.code, 422), exc.code, exc.message)


def _batch_view(summary: VoucherBatch) -> dict[str, Any]:
    """A batch summary as JSON."""
    data = asdict(summary)
    data["created_at"] = summary.created_at.isoformat()
    return data


def _card_view(card: Voucher) -> dict[str, Any]:
    """A card without its PIN hash: serial, status, who redeemed it and when."""
    return {
        "serial": card.serial,
        "status": card.status.value,
        "redeemed_at": card.redeemed_at.isoformat() if card.redeemed_at else None,
        "redeemed_by": card.redeemed_by,
        "payment_id": card.payment_id,
    }


def _printable(
    request: web.Request, head: dict[str, Any], cards: list[tuple[str, str]]
) -> web.Response:
    """The new cards as JSON or CSV (``serial,pin``), never cached."""
    wants_csv = request.query.get("format") == "csv" or _CSV in request.headers.get("Accept", "")
    if wants_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(("serial", "pin"))
        writer.writerows(cards)
        response = web.Response(text=out.getvalue(), content_type=_CSV, status=201)
        disposition = f'attachment; filename="{head["batch"]}.csv"'
        response.headers["Content-Disposition"] = disposition
    else:
        vouchers = [{"serial": serial, "pin": pin} for serial, pin in cards]
        response = web.json_response({**head, "vouchers": vouchers}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _create(request: web.Request) -> web.StreamResponse:
    """``POST /voucher-batches[?format=csv]``: 201 with every serial and PIN, shown once."""
    VoucherBatchFormat.model_validate(dict(request.query))
    body = VoucherBatchCreate.model_validate_json(await request.read())
    issuer = request.config_dict.get(VOUCHER_ISSUER)
    if issuer is None:
        return problem(503, "vouchers-unavailable", "Voucher issuing is not configured.")
    currency = body.currency or issuer.currency
    if currency != issuer.currency:
        detail = f"Cards must be in {issuer.currency}, the currency the gateway sells in."
        return problem(422, "currency-unsupported", detail)
    core = _core(request)
    try:
        cards = await issue_batch(
            core.uow, issuer.salt, core.now(), body.batch, body.count, body.face_value, currency
        )
    except VendingError as exc:  # voucher-batch-exists (or -invalid)
        return _refused(exc)
    head = {"batch": body.batch, "count": body.count, "face_value": body.face_value}
    head["currency"] = currency
    serials = {"first_serial": cards[0][0], "last_serial": cards[-1][0]}
    await audit(request, "voucher_batch.create", "voucher_batch", body.batch, after=head | serials)
    return _printable(request, head, cards)


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /voucher-batches?limit=&offset=``: batches with counts by status and values."""
    page = Page.model_validate(dict(request.query))
    async with _core(request).read_uow() as uow:
        found = await uow.vouchers.batches(limit=page.limit, offset=page.offset)
    items = [_batch_view(b) for b in found]
    return web.json_response({"items": items, "limit": page.limit, "offset": page.offset})


async def _get(request: web.Request) -> web.StreamResponse:
    """``GET /voucher-batches/{batch}?limit=&offset=``: the summary and a page of its cards."""
    name = request.match_info["batch"]
    page = Page.model_validate(dict(request.query))
    async with _core(request).read_uow() as uow:
        summary = await uow.vouchers.batch(name)
        cards = await uow.vouchers.in_batch(name, limit=page.limit, offset=page.offset)
    if summary is None:
        return problem(404, "voucher-batch-unknown", f"No voucher batch is named {name!r}.")
    items = [_card_view(c) for c in cards]
    body = {**_batch_view(summary), "items": items, "limit": page.limit, "offset": page.offset}
    return web.json_response(body)


def _counts(summary: VoucherBatch) -> dict[str, int]:
    return {"active": summary.active, "redeemed": summary.redeemed, "void": summary.void}


async def _void(request: web.Request) -> web.StreamResponse:
    """``POST /voucher-batches/{batch}/void`` ``{"reason"}``: unredeemed cards stop working."""
    name = request.match_info["batch"]
    body = VoucherVoidRequest.model_validate_json(await request.read())
    try:
        before, after, voided = await void_batch(_core(request).uow, name)
    except VendingError as exc:  # voucher-batch-unknown
        return _refused(exc)
    await audit(
        request,
        "voucher_batch.void",
        "voucher_batch",
        name,
        before=_counts(before),
        after={**_counts(after), "voided": voided, "reason": body.reason},
    )
    return web.json_response({**_batch_view(after), "voided": voided})


def add_voucher_routes(app: web.Application) -> None:
    """Register the voucher batch routes (names as in ``PERMISSIONS``)."""
    one = r"/voucher-batches/{batch:[A-Za-z0-9][A-Za-z0-9._-]{0,24}}"
    app.router.add_get("/voucher-batches", _list, name="voucher_batches.list")
    app.router.add_post("/voucher-batches", _create, name="voucher_batches.create")
    app.router.add_get(one, _get, name="voucher_batches.get")
    app.router.add_post(one + "/void", _void, name="voucher_batches.void")
