"""Payment providers that live in the gateway: the sandbox and M-Pesa Daraja STK push.

Both implement :class:`vending_core.service.payment_ports.PaymentProvider`; the composition root
builds them, hands results to ``apply_payment_result`` (``deliver`` or the
``/payments/{provider}/callback`` route via ``parse_callback``) and awaits ``aclose()`` on
shutdown (it cancels their background tasks and closes HTTP clients they made).

* :class:`SandboxProvider` (:mod:`gateway.payments.sandbox`): accepts at once, reports after a
  delay with configurable failure/abandon/silent rates and deterministic rules.
* :class:`DarajaProvider` (:mod:`gateway.payments.mpesa`, name ``mpesa``): M-Pesa STK push
  over Safaricom's Daraja API (OAuth token cache, push, status query, callback parsing).

Exceptions (the port's tree; nothing else escapes ``start``, ``query`` or ``parse_callback``):

* ``PaymentError`` (``code`` is stable)

  * ``PaymentRefused``: said no at once; nothing will be charged.
  * ``PaymentUnavailable``: unreachable or unclear answer; the outcome is unknown.
  * :class:`MalformedCallback`: a callback body that is not the provider's
    (``code`` ``payment-callback-malformed``).
"""

from gateway.payments._body import MalformedCallback
from gateway.payments.mpesa import DarajaConfig, DarajaProvider, TransactionType
from gateway.payments.sandbox import (
    SandboxBehaviour,
    SandboxConfig,
    SandboxProvider,
    SandboxRule,
    parse_rules,
)

__all__ = [
    "DarajaConfig",
    "DarajaProvider",
    "MalformedCallback",
    "SandboxBehaviour",
    "SandboxConfig",
    "SandboxProvider",
    "SandboxRule",
    "TransactionType",
    "parse_rules",
]
