"""Scopes: route-name patterns that narrow what a user of a level may use.

A user's ``scopes`` (``reports.*``, ``pos.vend``, ``customers.*``, ``*``) are ``fnmatch``
patterns over the route names of :data:`admin_api.permissions.PERMISSIONS`, matched case
sensitively. No scopes: every route the level allows (the default). With scopes, a route must
be allowed by the level (checked first: a scope never raises a level) *and* matched by one
pattern. Public routes and :data:`ALWAYS_ALLOWED` (``me``, ``logout``) need no scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Final

from admin_api.permissions import PERMISSIONS

__all__ = ["ALWAYS_ALLOWED", "in_scope", "unmatched"]

#: Routes every authenticated user may use whatever their scopes (their own session).
ALWAYS_ALLOWED: Final = frozenset({"me", "logout"})


def in_scope(scopes: Iterable[str], name: str) -> bool:
    """Whether route ``name`` may be used under ``scopes`` (none: everything)."""
    patterns = tuple(scopes)
    public = name in PERMISSIONS and PERMISSIONS[name] is None
    if not patterns or public or name in ALWAYS_ALLOWED:
        return True
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def unmatched(scopes: Iterable[str]) -> list[str]:
    """The patterns that match no route name of the permission table (a typo, say)."""
    return [p for p in scopes if not any(fnmatchcase(name, p) for name in PERMISSIONS)]
