"""Run vector lines: recognise each line's kind, check it, count passes and failures."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sts.vectors._schema import Line, VectorReport, _Check, _guarded
from sts.vectors.known_answers import (
    _check_crc,
    _check_derivation,
    _check_misty1,
    _check_trace,
    _check_vendor_key,
)
from sts.vectors.token_lines import _check_token_vector

__all__ = ["check_line", "run_lines", "vector_lines"]


def check_line(obj: Line) -> list[str]:
    """Return the mismatches of one vector line of any kind (empty when it passes)."""
    candidate: object = obj  # callers may hand over any JSON value
    if not isinstance(candidate, dict):
        return [f"a vector line must be a JSON object, got {type(candidate).__name__}"]
    checkers = (
        ("kind", _check_token_vector),
        ("rounds", _check_trace),
        ("crc_input_hex", _check_crc),
        ("ciphertext", _check_misty1),
        ("input_block", _check_vendor_key),
        ("scheme", _check_vendor_key),
        ("decoder_key", _check_derivation),
    )
    for key, checker in checkers:
        if key in obj:
            out: list[str] = []
            _guarded(checker, obj, _Check(out))
            return out
    return [f"unrecognised vector line (keys: {', '.join(sorted(obj)) or 'none'})"]


def vector_lines(name: str, text: str) -> list[tuple[str, str]]:
    """Split one file's text into ``(label, text)`` pairs for :func:`run_lines`.

    A file whose whole content is one JSON object (``sta_trace.json``) is one vector, labelled
    ``name:1``; otherwise each line is one (JSON Lines), labelled ``name:<line number>``.
    """
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        return [(f"{name}:1", text)]
    return [(f"{name}:{number}", line) for number, line in enumerate(text.splitlines(), 1)]


def run_lines(lines: Iterable[tuple[str, str]]) -> VectorReport:
    """Run ``(source label, raw text)`` lines: blank lines are skipped, bad JSON fails."""
    report = VectorReport()
    for source, text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:
            report.add(source, "?", [f"not valid JSON: {exc}"])
            continue
        vector_id = obj.get("id") if isinstance(obj, dict) else None
        report.add(source, "?" if vector_id is None else str(vector_id), check_line(obj))
    return report
