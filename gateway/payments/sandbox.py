"""The sandbox payment provider: accepts at once and reports later, like real mobile money.

:class:`SandboxProvider` implements the :class:`~vending_core.service.payment_ports.PaymentProvider`
port without any outside service, so the embedded default (``make run``, demos, end-to-end tests)
exercises the same asynchronous path as M-Pesa:

* ``start`` accepts at once with a reference ``SBX-<uuid hex>`` (never PAID there and then).
* After ``delay`` seconds (default 0.3) it decides the outcome and reports it, either through
  the ``deliver`` callable (in process, the default) or, when ``callback_url`` is configured,
  by POSTing its own JSON callback (:meth:`SandboxProvider.encode_callback`) to that URL, so the
  gateway's ``/payments/sandbox/callback`` route is exercised. A failing delivery is logged and
  retried with exponential backoff (``delivery_attempts``, ``retry_backoff``); a background
  task never raises.
* ``query`` answers from the provider's own record: PENDING until decided, then the reported
  result. A *silent* payment stays PENDING for ever (the intent expires on our side).

Outcomes, in this order of precedence:

1. ``by_msisdn[request.msisdn]``, then ``by_amount[request.amount]`` (minor units): a
   :class:`SandboxRule` fixes the behaviour for tests and demos. Behaviours: ``pay``, ``fail``,
   ``abandon``, ``silent`` (accepted, never reported), ``refuse`` (``start`` raises
   PaymentRefused) and ``unavailable`` (``start`` raises PaymentUnavailable). A rule may also
   set its own ``delay``, a ``paid_amount`` differing from the request (an amount conflict) and
   ``reports`` > 1 (the provider redelivers, as real ones do). :func:`parse_rules` reads them
   from text such as ``"254700000001=fail, amount:1300=abandon@2, 254700000002=silent"``.
2. Otherwise a draw from the injected ``random.Random`` (seed it for repeatable runs):
   FAILED with ``failure_rate``, ABANDONED with ``abandon_rate``, silent with ``silent_rate``,
   PAID otherwise.

Errors: ``start`` raises PaymentRefused / PaymentUnavailable (rules, non-positive amount, or
after :meth:`SandboxProvider.aclose`); ``query`` raises PaymentUnavailable with code
``payment-unknown-reference`` for a reference it never issued (or has forgotten: it keeps the
newest ``max_records``); ``parse_callback`` raises
:class:`~gateway.payments._body.MalformedCallback` (a PaymentError).
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field

import aiohttp
import structlog

from gateway.payments._body import MalformedCallback, decode_json_object, require
from vending_core.service.payment_ports import (
    Deliver,
    PaymentAccepted,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)

__all__ = [
    "SandboxBehaviour",
    "SandboxConfig",
    "SandboxProvider",
    "SandboxRule",
    "parse_rules",
]

_CALLBACK_KEYS = frozenset(
    {"reference", "payment_id", "outcome", "amount", "currency", "receipt", "reason"}
)
_FINAL = (PaymentOutcome.PAID, PaymentOutcome.FAILED, PaymentOutcome.ABANDONED)


class SandboxBehaviour(enum.StrEnum):
    """What the sandbox does with one request."""

    PAY = "pay"
    FAIL = "fail"
    ABANDON = "abandon"
    SILENT = "silent"  #: accepted, never reported: the payment times out on our side
    REFUSE = "refuse"  #: ``start`` raises PaymentRefused
    UNAVAILABLE = "unavailable"  #: ``start`` raises PaymentUnavailable


_OUTCOMES = {
    SandboxBehaviour.PAY: PaymentOutcome.PAID,
    SandboxBehaviour.FAIL: PaymentOutcome.FAILED,
    SandboxBehaviour.ABANDON: PaymentOutcome.ABANDONED,
}
_REASONS = {
    PaymentOutcome.PAID: "paid (sandbox)",
    PaymentOutcome.FAILED: "insufficient funds (sandbox)",
    PaymentOutcome.ABANDONED: "cancelled by the payer (sandbox)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxRule:
    """A fixed behaviour for matching requests (see the module docstring)."""

    behaviour: SandboxBehaviour
    delay: float | None = None  #: seconds before reporting; None: the config's delay
    paid_amount: int | None = None  #: PAY reports this amount instead of the request's
    reports: int = 1  #: how many times the result is reported (redelivery)

    def __post_init__(self) -> None:
        if self.delay is not None and self.delay < 0:
            raise ValueError("a sandbox rule's delay is not negative")
        if self.reports < 1:
            raise ValueError("a sandbox rule reports at least once")


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """How the sandbox behaves; rates are probabilities whose sum is at most 1."""

    delay: float = 0.3
    failure_rate: float = 0.0
    abandon_rate: float = 0.0
    silent_rate: float = 0.0
    by_msisdn: Mapping[str, SandboxRule] = field(default_factory=dict)
    by_amount: Mapping[int, SandboxRule] = field(default_factory=dict)
    callback_url: str | None = None  #: POST results here instead of calling ``deliver``
    callback_timeout: float = 5.0
    delivery_attempts: int = 4  #: tries per report before giving up (logged)
    retry_backoff: float = 0.1  #: seconds before the first retry, doubled each time
    max_records: int = 10_000  #: references remembered for ``query`` (oldest forgotten)

    def __post_init__(self) -> None:
        rates = (self.failure_rate, self.abandon_rate, self.silent_rate)
        if any(not 0 <= rate <= 1 for rate in rates) or sum(rates) > 1:
            raise ValueError("sandbox rates are probabilities with a sum of at most 1")
        if self.delay < 0 or self.retry_backoff < 0 or self.callback_timeout <= 0:
            raise ValueError("sandbox delays are not negative, the callback timeout positive")
        if self.delivery_attempts < 1 or self.max_records < 1:
            raise ValueError("sandbox delivery_attempts and max_records are at least 1")


def parse_rules(spec: str) -> tuple[dict[str, SandboxRule], dict[int, SandboxRule]]:
    """Rules from text: ``KEY=BEHAVIOUR[@DELAY]`` entries separated by commas.

    ``KEY`` is an MSISDN (digits) or ``amount:N`` (N in minor units). Example:
    ``"254700000001=fail, amount:1300=abandon@2"``. Returns ``(by_msisdn, by_amount)``;
    ValueError names the first bad entry.
    """
    by_msisdn: dict[str, SandboxRule] = {}
    by_amount: dict[int, SandboxRule] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, action = entry.partition("=")
        behaviour, at, delay = action.strip().partition("@")
        try:
            rule = SandboxRule(
                behaviour=SandboxBehaviour(behaviour.strip()),
                delay=float(delay) if at else None,
            )
        except ValueError as exc:
            raise ValueError(f"bad sandbox rule {entry!r}: {exc}") from exc
        key = key.strip()
        if sep and key.startswith("amount:") and key[7:].isdigit():
            by_amount[int(key[7:])] = rule
        elif sep and key.isdigit():
            by_msisdn[key] = rule
        else:
            raise ValueError(f"bad sandbox rule {entry!r}: key is an MSISDN or amount:N")
    return by_msisdn, by_amount


@dataclass(slots=True)
class _Record:
    payment_id: str
    amount: int
    currency: str
    result: ProviderResult | None = None  #: None while undecided


class SandboxProvider:
    """A payment provider that needs no outside service (see the module docstring).

    Args:
        config: behaviour and delivery settings; defaults: 0.3 s delay, always paid.
        deliver: the in-process report path (the gateway's ``apply_payment_result``);
            required unless ``config.callback_url`` is set.
        rng: the source of random outcomes; seed it for repeatable runs.
        session: the HTTP client for callbacks; when None and a callback URL is set the
            provider makes its own and closes it in :meth:`aclose`.
        name: the provider's name in URLs and records.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        deliver: Deliver | None = None,
        rng: random.Random | None = None,
        session: aiohttp.ClientSession | None = None,
        name: str = "sandbox",
    ) -> None:
        self._config = config if config is not None else SandboxConfig()
        if deliver is None and self._config.callback_url is None:
            raise ValueError("the sandbox needs deliver or a callback_url to report results")
        self._deliver = deliver
        # Outcomes of a simulation, not secrets: a seedable PRNG is what tests need.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._session = session
        self._owns_session = session is None
        self._name = name
        self._records: dict[str, _Record] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._log = structlog.get_logger(__name__)

    @property
    def name(self) -> str:
        """The provider's name in URLs and records."""
        return self._name

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Accept at once (or refuse per rule) and schedule the report."""
        if self._closed:
            raise PaymentUnavailable("the sandbox provider is closed")
        if request.amount <= 0:
            raise PaymentRefused("the amount must be positive", code="payment-bad-amount")
        rule = self._rule_for(request)
        if rule.behaviour is SandboxBehaviour.REFUSE:
            raise PaymentRefused("the sandbox refuses this request (rule)")
        if rule.behaviour is SandboxBehaviour.UNAVAILABLE:
            raise PaymentUnavailable("the sandbox is unavailable for this request (rule)")
        reference = f"SBX-{uuid.uuid4().hex}"
        self._records[reference] = _Record(request.payment_id, request.amount, request.currency)
        while len(self._records) > self._config.max_records:
            del self._records[next(iter(self._records))]
        self._spawn(self._report_later(reference, rule))
        return PaymentAccepted(provider_reference=reference)

    async def query(self, provider_reference: str) -> ProviderResult:
        """The reported result, or PENDING while undecided (for ever when silent)."""
        record = self._records.get(provider_reference)
        if record is None:
            raise PaymentUnavailable(
                f"no sandbox payment {provider_reference!r}", code="payment-unknown-reference"
            )
        if record.result is not None:
            return record.result
        return ProviderResult(
            provider=self._name,
            provider_reference=provider_reference,
            outcome=PaymentOutcome.PENDING,
            reason="waiting for the payer (sandbox)",
            raw={"reference": provider_reference, "outcome": PaymentOutcome.PENDING.value},
        )

    def encode_callback(self, result: ProviderResult) -> bytes:
        """The JSON body the sandbox POSTs for ``result`` (its ``raw`` payload)."""
        return json.dumps(dict(result.raw), separators=(",", ":")).encode()

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """The result in a sandbox callback body; MalformedCallback unless exactly ours."""
        payload = decode_json_object(body, content_type)
        if set(payload) != _CALLBACK_KEYS:
            raise MalformedCallback(f"sandbox callback keys are not {sorted(_CALLBACK_KEYS)}")
        where = "sandbox callback"
        reference = require(payload, "reference", str, where)
        require(payload, "payment_id", str, where)
        require(payload, "currency", str, where)
        amount = payload["amount"]
        reason = require(payload, "reason", str, where)
        try:
            outcome = PaymentOutcome(require(payload, "outcome", str, where))
        except ValueError as exc:
            raise MalformedCallback("sandbox callback outcome is unknown") from exc
        receipt = payload["receipt"]
        if outcome not in _FINAL or not reference.startswith("SBX-"):
            raise MalformedCallback("sandbox callback is not a final result of ours")
        if outcome is PaymentOutcome.PAID:
            amount = require(payload, "amount", int, where)
            receipt = require(payload, "receipt", str, where)
            if amount <= 0 or not receipt:
                raise MalformedCallback("sandbox callback of a payment lacks amount or receipt")
        elif amount is not None or receipt is not None:
            raise MalformedCallback("sandbox callback of an unpaid request has amount or receipt")
        return ProviderResult(
            provider=self._name,
            provider_reference=reference,
            outcome=outcome,
            amount=amount,
            receipt=receipt,
            reason=reason,
            raw=payload,
            payment_id=require(payload, "payment_id", str, where),
        )

    async def aclose(self) -> None:
        """Cancel every pending report and close the HTTP client the provider made."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SandboxProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ internals

    def _rule_for(self, request: PaymentRequest) -> SandboxRule:
        config = self._config
        rule = config.by_msisdn.get(request.msisdn) or config.by_amount.get(request.amount)
        if rule is not None:
            return rule
        draw = self._rng.random()
        for behaviour, rate in (
            (SandboxBehaviour.FAIL, config.failure_rate),
            (SandboxBehaviour.ABANDON, config.abandon_rate),
            (SandboxBehaviour.SILENT, config.silent_rate),
        ):
            if draw < rate:
                return SandboxRule(behaviour=behaviour)
            draw -= rate
        return SandboxRule(behaviour=SandboxBehaviour.PAY)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report_later(self, reference: str, rule: SandboxRule) -> None:
        """Decide and report after the delay; logs instead of raising (a background task)."""
        try:
            await asyncio.sleep(self._config.delay if rule.delay is None else rule.delay)
            if rule.behaviour is SandboxBehaviour.SILENT:
                self._log.info("sandbox_payment_silent", reference=reference)
                return
            result = self._decide(reference, rule)
            if result is None:
                return
            for _ in range(rule.reports):
                await self._report(result)
        except Exception:  # a background task must not die with an unobserved exception
            self._log.exception("sandbox_report_crashed", reference=reference)

    def _decide(self, reference: str, rule: SandboxRule) -> ProviderResult | None:
        record = self._records.get(reference)
        if record is None:  # forgotten (max_records): nothing left to report on
            return None
        outcome = _OUTCOMES[rule.behaviour]
        paid = outcome is PaymentOutcome.PAID
        amount = None
        if paid:
            amount = record.amount if rule.paid_amount is None else rule.paid_amount
        receipt = f"SBR{uuid.uuid4().hex[:12].upper()}" if paid else None
        raw: dict[str, object] = {
            "reference": reference,
            "payment_id": record.payment_id,
            "outcome": outcome.value,
            "amount": amount,
            "currency": record.currency,
            "receipt": receipt,
            "reason": _REASONS[outcome],
        }
        record.result = ProviderResult(
            provider=self._name,
            provider_reference=reference,
            outcome=outcome,
            amount=amount,
            receipt=receipt,
            reason=_REASONS[outcome],
            raw=raw,
            payment_id=record.payment_id,
        )
        return record.result

    async def _report(self, result: ProviderResult) -> None:
        """One report, retried with backoff; gives up (logged) after the configured tries."""
        config = self._config
        for attempt in range(1, config.delivery_attempts + 1):
            try:
                await self._report_once(result)
            except Exception as exc:  # deliver is the gateway's code: any error is retried
                self._log.warning(
                    "sandbox_report_failed",
                    reference=result.provider_reference,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
            else:
                return
            if attempt < config.delivery_attempts:
                await asyncio.sleep(config.retry_backoff * 2 ** (attempt - 1))
        self._log.error(
            "sandbox_report_gave_up",
            reference=result.provider_reference,
            attempts=config.delivery_attempts,
        )

    async def _report_once(self, result: ProviderResult) -> None:
        url = self._config.callback_url
        if url is not None:
            await self._post(url, result)
        elif self._deliver is not None:  # one of them is set (checked in __init__)
            await self._deliver(result)

    async def _post(self, url: str, result: ProviderResult) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._config.callback_timeout)
        async with self._session.post(
            url,
            data=self.encode_callback(result),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        ) as response:
            await response.read()
            response.raise_for_status()
