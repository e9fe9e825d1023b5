"""``vendgate serve``: run the gateway until SIGINT/SIGTERM, then drain and stop.

aiohttp's runner stops accepting connections on the signal, lets in-flight requests finish
(up to ``SHUTDOWN_GRACE`` seconds), then runs the application's cleanup context, which stops
the SMS dispatcher and the payment tasks and closes the database and Redis.
"""

from __future__ import annotations

import sys
from typing import Final

from aiohttp import web

from config.logging import configure_logging
from config.settings import Environment, Settings
from gateway.app import Overrides, create_app

__all__ = ["SHUTDOWN_GRACE", "serve"]

SHUTDOWN_GRACE: Final = 10.0  #: seconds in-flight requests get after SIGTERM

_TRY: Final = """\
Vendgate is listening on http://{host}:{port}  (Ctrl-C stops it)
  try a USSD session (Africa's Talking style; send text "" then "1", ...):
    curl -s -d sessionId=demo1 -d phoneNumber=+254700000001 -d serviceCode='*384*12#' \\
         -d text= http://{host}:{port}/ussd/africastalking
  health, readiness and metrics: /healthz  /readyz  /metrics
"""


def serve(settings: Settings, *, host: str, port: int, demo_data: bool) -> None:
    """Run the gateway on ``host:port`` until interrupted."""
    configure_logging(json_lines=settings.environment is Environment.PRODUCTION)
    app = create_app(settings, overrides=Overrides(demo_data=demo_data))
    sys.stderr.write(_TRY.format(host=host, port=port))
    web.run_app(
        app,
        host=host,
        port=port,
        shutdown_timeout=SHUTDOWN_GRACE,
        access_log=None,
        print=None,
        handle_signals=True,
    )
