"""The SMS adapters' exception tree (see the package docstring)."""

from __future__ import annotations

__all__ = ["MalformedDeliveryReport", "SmsAdapterError"]


class SmsAdapterError(Exception):
    """Base of every error the SMS adapters raise."""


class MalformedDeliveryReport(SmsAdapterError):  # noqa: N818 - named for what happened
    """A delivery-report callback lacks a field we need (the route answers 400)."""
