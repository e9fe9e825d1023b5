"""The configuration package's one exception."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A setting has a value Vendgate cannot use; the message names the variable."""
