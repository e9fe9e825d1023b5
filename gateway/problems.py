"""RFC 9457 problem details, and the middleware that logs, counts and contains every request.

Problem types are stable machine-readable codes under ``https://vendgate.dev/problems/``;
``title`` is for people. The middleware writes one summary line per request (route name,
status, milliseconds), feeds the metrics, and turns an unexpected exception into a 500
problem without its details (they go to the log), so no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import keys

__all__ = ["PROBLEM_BASE", "observe", "problem"]

PROBLEM_BASE: Final = "https://vendgate.dev/problems/"
_CONTENT_TYPE: Final = "application/problem+json"
_log = structlog.get_logger("gateway.http")
_std = logging.getLogger(__name__)


def problem(status: int, code: str, detail: str, **extra: object) -> web.Response:
    """A problem+json response: ``type`` from ``code``, ``title`` = ``detail``'s first line."""
    body = {"type": PROBLEM_BASE + code, "title": code.replace("-", " "), "status": status}
    body["detail"] = detail
    body.update(extra)
    response = web.json_response(body, status=status)
    response.content_type = _CONTENT_TYPE
    return response


def _route_name(request: web.Request) -> str:
    route = request.match_info.route
    return route.name or ("unmatched" if route.resource is None else "unnamed")


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time, count and log the request; contain unexpected errors."""
    metrics = request.app[keys.METRICS]
    name = _route_name(request)
    started = time.perf_counter()
    metrics.in_flight.inc()
    provider = request.match_info.get("provider")
    context = {"route": name, **({"provider": provider[:40]} if provider else {})}
    try:
        with structlog.contextvars.bound_contextvars(**context):
            response = await handler(request)
    except web.HTTPException as exc:  # aiohttp's own 404/405/413...: keep them, as problems
        response = problem(exc.status, exc.reason.lower().replace(" ", "-"), exc.reason)
    except Exception:
        _std.exception("request failed", extra={"route": name})
        response = problem(500, "internal-error", "Something went wrong on our side.")
    finally:
        metrics.in_flight.dec()
    elapsed = time.perf_counter() - started
    metrics.requests.labels(name, str(response.status)).inc()
    metrics.latency.labels(name).observe(elapsed)
    _log.info(
        "request",
        **context,
        method=request.method,
        status=response.status,
        ms=round(elapsed * 1000, 2),
    )
    return response
