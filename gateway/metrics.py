"""Prometheus metrics of one gateway application (its own registry, no global state).

``GET /metrics`` serves :meth:`Metrics.exposition`. Labels are low-cardinality on purpose:
route names (not paths), provider names, outcome kinds — never phone numbers or meters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The gateway's counters and histograms on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "vendgate_http_requests",
            "HTTP requests by route name and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vendgate_http_request_seconds",
            "HTTP request latency by route name.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ussd_hops = Counter(
            "vendgate_ussd_hops",
            "USSD hops by provider and outcome (hop, duplicate, closed, unavailable, bad).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.payments = Counter(
            "vendgate_payment_results",
            "Payment results applied, by provider and resulting status.",
            ["provider", "status"],
            registry=self.registry,
        )
        self.sms = Counter(
            "vendgate_sms_dispatched",
            "Outbound SMS dispatch attempts by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.backups = Counter(
            "vendgate_backups",
            "Scheduled database backups by outcome (ok, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.backup_last_success = Gauge(
            "vendgate_backup_last_success_timestamp_seconds",
            "Unix time of this process's last successful scheduled backup (0: none yet).",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "vendgate_http_in_flight",
            "HTTP requests being handled now.",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
