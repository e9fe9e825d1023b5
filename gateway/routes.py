"""The gateway's HTTP routes: USSD, payment callbacks, SMS delivery reports, health, metrics.

Every route answers garbage with a 4xx (RFC 9457 problem JSON, or plain text for the USSD
aggregators) and never with a 5xx: a request we cannot read is the sender's problem, and a
failure of ours behind a USSD hop ends the session politely (:mod:`gateway.ussd`).

Callback protection (per provider, optional): an IP allow-list and/or a shared secret sent as
the ``X-Callback-Token`` header or the ``token`` query parameter (:mod:`config.gateway`).
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from gateway import keys
from gateway.problems import problem
from gateway.sms.africastalking import parse_delivery_report
from gateway.sms.errors import MalformedDeliveryReport
from gateway.sms_service import InboundSms
from ussd_menus.codecs import CODECS as HTTP_CODECS
from ussd_menus.codecs import africastalking
from ussd_menus.model import CodecError
from vending_core.service.outbox import normalise_msisdn
from vending_core.service.payment_ports import PaymentError

__all__ = ["add_routes"]

_log = logging.getLogger(__name__)
_TEXT: Final = "text/plain"
_MAX_FIELD: Final = 200
_DARAJA_ACK: Final = {"ResultCode": 0, "ResultDesc": "Accepted"}


def _form(body: bytes) -> dict[str, str]:
    """A urlencoded form (UTF-8, strict); ValueError if it is not one."""
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))


def _guarded(request: web.Request, provider: str) -> web.Response | None:
    """A 403 when the provider's callback guard rejects the request, else None."""
    guard = request.app[keys.SETTINGS].gateway.guard(provider)
    if not guard.allows_ip(request.remote):
        return problem(403, "forbidden", "This address may not call this route.")
    if guard.secret is not None:
        sent = request.headers.get("X-Callback-Token") or request.query.get("token") or ""
        if not hmac.compare_digest(sent.encode(), guard.secret.encode()):
            return problem(403, "forbidden", "Missing or wrong callback token.")
    return None


async def ussd_hop(request: web.Request) -> web.StreamResponse:
    """``POST /ussd/{provider}``: one hop of a USSD session."""
    provider = request.match_info["provider"]
    metrics = request.app[keys.METRICS]
    gateway = request.app[keys.USSD]
    if provider not in HTTP_CODECS:  # USSD over SMPP has a codec but no HTTP route
        return problem(404, "unknown-provider", f"No USSD provider is called {provider[:40]!r}.")
    if (refusal := _guarded(request, provider)) is not None:
        return refusal
    body = await request.read()
    try:
        outcome = await gateway.hop(provider, body)
    except CodecError as exc:
        metrics.ussd_hops.labels(provider, "bad").inc()
        return web.Response(status=400, text=f"Bad request: {exc}", content_type=_TEXT)
    metrics.ussd_hops.labels(provider, outcome.kind).inc()
    http = outcome.http
    content_type, _, charset = http.content_type.partition("; charset=")
    return web.Response(
        status=http.status, body=http.body, content_type=content_type, charset=charset or None
    )


async def ussd_events(request: web.Request) -> web.StreamResponse:
    """``POST /ussd/africastalking/events``: Africa's Talking's end-of-session notification."""
    if (refusal := _guarded(request, africastalking.NAME)) is not None:
        return refusal
    try:
        closed = africastalking.parse_end(await request.read())
    except CodecError as exc:
        return web.Response(status=400, text=f"Bad request: {exc}", content_type=_TEXT)
    await request.app[keys.USSD].close(closed)
    request.app[keys.METRICS].ussd_hops.labels(africastalking.NAME, "closed").inc()
    return web.Response(text="OK", content_type=_TEXT)


async def payment_callback(request: web.Request) -> web.StreamResponse:
    """``POST /payments/{provider}/callback``: a provider reports a payment's result."""
    name = request.match_info["provider"]
    purchases = request.app[keys.PURCHASES]
    provider = purchases.providers.get(name)
    if provider is None:
        return problem(404, "unknown-provider", f"No payment provider is called {name[:40]!r}.")
    if (refusal := _guarded(request, name)) is not None:
        return refusal
    body = await request.read()
    try:
        result = provider.parse_callback(body, request.content_type)
    except PaymentError as exc:
        return problem(400, "bad-callback", exc.message)
    await purchases.apply(result)
    if name == "mpesa":
        return web.json_response(_DARAJA_ACK)
    return web.json_response({"status": "accepted"})


async def sms_delivery(request: web.Request) -> web.StreamResponse:
    """``POST /sms/africastalking/delivery``: Africa's Talking's delivery report."""
    if (refusal := _guarded(request, africastalking.NAME)) is not None:
        return refusal
    try:
        report = parse_delivery_report(_form(await request.read()))
    except (ValueError, MalformedDeliveryReport) as exc:
        return problem(400, "bad-delivery-report", str(exc))
    await request.app[keys.PURCHASES].delivery_report(report)
    return web.Response(text="OK", content_type=_TEXT)


async def sms_inbound(request: web.Request) -> web.StreamResponse:
    """``POST /sms/africastalking/inbound``: a customer's SMS (``from``, ``text``, ``id``...).

    Handled before the answer (one reply queued, at most one purchase started), so a 200 means
    it is done; a failure of ours answers 503 and Africa's Talking delivers it again, which
    is safe (see :mod:`gateway.sms_service`).
    """
    if (refusal := _guarded(request, africastalking.NAME)) is not None:
        return refusal
    try:
        form = _form(await request.read())
        sms = InboundSms(
            channel=africastalking.NAME,
            message_id=_required(form, "id"),
            msisdn=normalise_msisdn(_required(form, "from")),
            text=form.get("text", ""),
            received_at=datetime.now(UTC),
        )
    except ValueError as exc:
        return problem(400, "bad-inbound-sms", str(exc))
    try:
        await request.app[keys.SMS].handle(sms)
    except Exception:
        _log.exception("inbound sms failed")
        return problem(503, "try-again", "The message could not be handled now; send it again.")
    return web.Response(text="OK", content_type=_TEXT)


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value or len(value) > _MAX_FIELD:
        raise ValueError(f"field {name!r} is missing, empty or too long")
    return value


async def healthz(request: web.Request) -> web.StreamResponse:
    """``GET /healthz``: the process is alive (no dependency is checked)."""
    del request
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    """``GET /readyz``: the database (and Redis, when configured) answer."""
    checks = await request.app[keys.READINESS]()
    ready = all(ok for ok in checks.values())
    body = {"status": "ready" if ready else "not-ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    """``GET /metrics``: Prometheus text format."""
    body = request.app[keys.METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": keys.METRICS_CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    """Register every route on ``app`` (names are the metrics' route labels)."""
    app.router.add_post("/ussd/africastalking/events", ussd_events, name="ussd-events")
    app.router.add_post("/ussd/{provider}", ussd_hop, name="ussd")
    app.router.add_post("/payments/{provider}/callback", payment_callback, name="payment-callback")
    app.router.add_post("/sms/africastalking/delivery", sms_delivery, name="sms-delivery")
    app.router.add_post("/sms/africastalking/inbound", sms_inbound, name="sms-inbound")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/metrics", metrics, name="metrics")
