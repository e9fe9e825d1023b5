"""The vector schema's building blocks: typed access to a line, mismatches, the report.

A line is one parsed JSON object. :func:`_req`, :func:`_opt`, :func:`_hex` and
:func:`_opt_hex` read one key with its type checked and raise :class:`_SchemaError` when the
line does not follow the schema; :class:`_Check` collects the mismatches of one vector;
:func:`_guarded` turns any error a checker meets into a mismatch. :class:`Failure` and
:class:`VectorReport` are the outcome of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from string import hexdigits
from typing import Any, TypeVar

from sts.errors import StsError
from sts.sta import IEC_SAMPLE, PRODUCTION, StaTables

__all__ = ["Failure", "VectorReport"]

Line = dict[str, Any]
_T = TypeVar("_T")


class _SchemaError(ValueError):
    """A line does not follow the schema (missing key, wrong type, unknown kind)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One mismatch of one vector: where the line is, which vector, what differs."""

    source: str
    vector_id: str
    mismatch: str

    def __str__(self) -> str:
        return f"FAIL {self.source} {self.vector_id}: {self.mismatch}"


@dataclass(slots=True)
class VectorReport:
    """The outcome of a run: how many vectors passed and failed, and every mismatch."""

    passed: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no vector failed."""
        return self.failed == 0

    @property
    def summary(self) -> str:
        """The closing line of a run: ``N passed, M failed``."""
        return f"{self.passed} passed, {self.failed} failed"

    def add(self, source: str, vector_id: str, mismatches: list[str]) -> None:
        """Count one vector and record its mismatches, if any."""
        if mismatches:
            self.failed += 1
            self.failures.extend(Failure(source, vector_id, text) for text in mismatches)
        else:
            self.passed += 1


class _Check:
    """Collects mismatches, each with a prefix (``encode: ``, ``decode: ``)."""

    def __init__(self, out: list[str], prefix: str = "") -> None:
        self.out, self.prefix = out, prefix

    def fail(self, text: str) -> None:
        self.out.append(self.prefix + text)

    def equal(self, name: str, got: object, expected: object) -> None:
        if got != expected or type(got) is not type(expected):
            self.fail(f"{name}: expected {expected!r}, got {got!r}")

    def hex(self, name: str, got: int, expected: str) -> None:
        """Compare a number with validated hex digits, at their width."""
        if (text := f"{got:0{len(expected)}X}") != expected:
            self.fail(f"{name}: expected {expected}, got {text}")

    def hex_bytes(self, name: str, got: bytes, expected: str) -> None:
        if (text := got.hex().upper()) != expected:
            self.fail(f"{name}: expected {expected}, got {text}")


# --- typed access to a line -----------------------------------------------------------------


def _opt(obj: Line, key: str, kind: type[_T]) -> _T | None:
    """``obj[key]`` if it is a ``kind`` (a bool is no int here) or null, else malformed."""
    if not isinstance(obj, dict):
        raise _SchemaError(f"expected a JSON object holding {key!r}, got {type(obj).__name__}")
    if key not in obj:
        raise _SchemaError(f"missing key {key!r}")
    value = obj[key]
    if value is None or (isinstance(value, kind) and (kind is bool or type(value) is not bool)):
        return value
    raise _SchemaError(f"{key} must be {kind.__name__} or null, got {value!r}")


def _req(obj: Line, key: str, kind: type[_T]) -> _T:
    """``obj[key]``: a ``kind``, not null."""
    if (value := _opt(obj, key, kind)) is None:
        raise _SchemaError(f"{key} must be {kind.__name__}, got null")
    return value


def _opt_hex(obj: Line, key: str, *digits: int) -> str | None:
    """Hex digits (either case, returned upper) of a width in ``digits`` (none: even)."""
    if (value := _opt(obj, key, str)) is None:
        return None
    width_ok = len(value) in digits if digits else len(value) % 2 == 0
    if not value or not width_ok or any(char not in hexdigits for char in value):
        widths = " or ".join(map(str, digits)) if digits else "an even number of"
        raise _SchemaError(f"{key} must be {widths} hex digits, got {value!r}")
    return value.upper()


def _hex(obj: Line, key: str, *digits: int) -> str:
    if (value := _opt_hex(obj, key, *digits)) is None:
        raise _SchemaError(f"{key} must be hex digits, got null")
    return value


def _tables(obj: Line) -> StaTables:
    name = obj.get("sta_tables")
    if name in (None, "production"):
        return PRODUCTION
    if name == "iec_sample":
        return IEC_SAMPLE
    raise _SchemaError(f"unknown sta_tables {name!r}")


# --- running a checker ----------------------------------------------------------------------


def _guarded(checker: Callable[[Line, _Check], None], obj: Line, check: _Check) -> None:
    """Run ``checker``, turning any error it meets into a mismatch."""
    try:
        checker(obj, check)
    except _SchemaError as exc:
        check.fail(f"malformed line: {exc}")
    except (StsError, KeyError, TypeError, ValueError, IndexError) as exc:
        check.fail(f"{type(exc).__name__}: {exc}")
