"""Logging setup: structlog for our lines, the standard library's records rendered the same way.

:func:`configure_logging` is called once by the command line (never at import time). Lines
are JSON in production and coloured key=value on a terminal. Context bound with
``structlog.contextvars`` (channel, provider, hashed phone, meter, request id) appears on every
line of the request, including the standard library's (aiohttp's access log is off: the
gateway writes one summary line per request itself).

Secrets never reach a log: callers log hashed phone numbers (:func:`hash_msisdn`) and never
tokens, keys, PINs or API keys.
"""

from __future__ import annotations

import hashlib
import logging
import sys

import structlog

__all__ = ["configure_logging", "hash_msisdn"]


def hash_msisdn(msisdn: str) -> str:
    """A short stable pseudonym of a phone number for logs (not reversible at a glance)."""
    digits = msisdn.lstrip("+")
    return "m-" + hashlib.sha256(digits.encode()).hexdigest()[:12]


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Route structlog and standard-library logging to stderr in one format."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # JSON needs the traceback as a string; the console renderer formats it itself.
            *([structlog.processors.format_exc_info] if json_lines else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
