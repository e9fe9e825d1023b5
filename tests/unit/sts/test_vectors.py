"""Tests for :mod:`sts.vectors`, the runner of the shared STS vector files.

Every public vector must pass, and the runner must really compare: a copy of a good line with
one expected value changed must be reported, and a malformed line must be reported, not raised.
Expected values come from the shared vector files only.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sts.vectors import Failure, VectorReport, check_line, run_lines, vector_lines

# The `shared` folder sits beside the repository root (tests/unit/sts -> repo root).
SHARED = Path(__file__).resolve().parents[3].parent / "shared"
VECTORS = SHARED / "sts" / "vectors"

# Lines per file, as the vector README's table states them (not counted from the files).
PUBLIC_FILES = {
    "group_a.jsonl": 163,
    "group_b.jsonl": 100,
    "group_d.jsonl": 13,
    "group_f.jsonl": 6,
    "iec_worked_example.jsonl": 1,
    "gh_public.jsonl": 9,
    "dk_derivation.jsonl": 36,
    "crc.jsonl": 4,
    "misty1_rfc2994.jsonl": 2,
    "vendor_meter_key_nonstandard.jsonl": 6,
    "sta_trace.json": 1,
}


def _lines(name: str) -> list[tuple[str, dict[str, Any]]]:
    """Return (label, object) for every vector of a shared file; fail if it is missing."""
    path = VECTORS / name
    assert path.is_file(), f"vector file missing: {path}"
    pairs = vector_lines(name, path.read_text(encoding="utf-8"))
    return [(label, json.loads(text)) for label, text in pairs if text.strip()]


def _vector(name: str, vector_id: str) -> dict[str, Any]:
    """Return a deep copy of one vector, found by its id."""
    for _, obj in _lines(name):
        if obj.get("id") == vector_id:
            return copy.deepcopy(obj)
    raise AssertionError(f"{vector_id} not in {name}")


def test_shared_vector_folder_is_present() -> None:
    """The shared vector folder exists: a missing folder fails the suite, it is never skipped."""
    assert VECTORS.is_dir(), f"shared vector folder missing: {VECTORS}"


@pytest.mark.parametrize(("name", "count"), PUBLIC_FILES.items())
def test_every_public_vector_passes(name: str, count: int) -> None:
    """Every line of every public file runs with zero mismatches, and none is skipped."""
    lines = _lines(name)
    assert len(lines) == count
    failures = {label: check_line(obj) for label, obj in lines}
    assert {label: found for label, found in failures.items() if found} == {}


# --- mutations: the runner really compares ---------------------------------------------------

CREDIT = ("group_a.jsonl", "A/CTSA01-1")  # DKGA02/EA07 credit 0.1 kWh, TID 5871715
KCT_SECTION_1 = ("group_a.jsonl", "A/CTSA05-1a")
EA11_SECTION_3 = ("group_b.jsonl", "B/CTSA05_04-1c")
EA07_SECTION_3 = ("gh_public.jsonl", "G/POS07-CTSA05-4c")
VENDOR_KEY = ("vendor_meter_key_nonstandard.jsonl", "F/VENDORKEY-22000470462")


def _mutated(where: tuple[str, str], path: tuple[str, ...], value: object) -> list[str]:
    """Mismatches of a vector after setting the (nested) key ``path`` to ``value``."""
    obj = _vector(*where)
    target = obj
    for key in path[:-1]:
        target = target[key]
    assert path[-1] in target, f"{path} not in the vector"
    assert target[path[-1]] != value, "the mutation must change the value"
    target[path[-1]] = value
    return check_line(obj)


@pytest.mark.parametrize(
    ("where", "path", "value", "named"),
    [
        (CREDIT, ("expected", "token"), "23716100501183194198", "token"),
        (CREDIT, ("expected", "plain64"), "05599863000119E7", "plain64"),
        (CREDIT, ("expected", "enc64"), "492083C0AE7CE456", "enc64"),
        (CREDIT, ("tid",), 5871716, "tid"),
        (CREDIT, ("value_tenths",), 2, "value_tenths"),
        (CREDIT, ("value",), "0.2", "value"),
        (CREDIT, ("amount_field",), 2, "amount_field"),
        (CREDIT, ("issued_at",), "2004-03-01T13:56", "tid"),
        (CREDIT, ("rnd",), 6, "rnd"),
        (CREDIT, ("decoder_key",), "E653341F9D5BF36E", "decoder_key"),
        (CREDIT, ("pan",), "000001000000000082", "decoder_key"),
        (KCT_SECTION_1, ("new_krn",), 2, "new_krn"),
        (KCT_SECTION_1, ("kenho",), 14, "kenho"),
        (KCT_SECTION_1, ("ro",), 1, "ro"),
        (KCT_SECTION_1, ("new_decoder_key",), "160B8643C59A27F1", "new_decoder_key"),
        (KCT_SECTION_1, ("kct_set_size",), 3, "kct_set_size"),
        (EA11_SECTION_3, ("new_sgc",), "123458", "new_sgc"),
        (EA07_SECTION_3, ("new_sgc",), "201458", "new_sgc"),
    ],
)
def test_a_changed_expectation_is_reported(
    where: tuple[str, str], path: tuple[str, ...], value: object, named: str
) -> None:
    """Changing one expected value of a good vector gives a mismatch that names it."""
    mismatches = _mutated(where, path, value)
    assert mismatches
    assert any(named in mismatch for mismatch in mismatches), mismatches


def test_kct_line_is_checked_against_the_whole_keychange_set() -> None:
    """A KCT line whose set size disagrees with KeyChange is reported even if the token fits."""
    obj = _vector(*KCT_SECTION_1)
    obj["kct_set_size"] = 4  # an EA07 key cannot make a 4-token set
    assert any("kct_set_size" in mismatch for mismatch in check_line(obj))


def test_reserved_minute_shift_is_checked() -> None:
    """A line claiming a reserved-minute shift that did not happen is reported."""
    obj = _vector(*CREDIT)
    obj["reserved_minute_shift"] = True
    assert any("reserved_minute_shift" in mismatch for mismatch in check_line(obj))


def test_hex_in_lower_case_is_accepted() -> None:
    """Hex keys and blocks may be written in either case (README conventions)."""
    obj = _vector(*CREDIT)
    for key in ("vending_key", "decoder_key"):
        obj[key] = obj[key].lower()
    obj["expected"]["plain64"] = obj["expected"]["plain64"].lower()
    assert check_line(obj) == []


@pytest.mark.parametrize(
    ("where", "path", "value"),
    [
        (("crc.jsonl", "F/CRC-1"), ("crc",), "C208"),
        (("misty1_rfc2994.jsonl", "RFC2994/1"), ("ciphertext",), "8B1DA5F56AB3D07D"),
        (("dk_derivation.jsonl", "DK/02"), ("des_output",), "63C8DDED94CDC79F"),
        (("dk_derivation.jsonl", "DK/20"), ("hmac_message",), "05" + "00" * 48),
        (("dk_derivation.jsonl", "DK/01"), ("decoder_key",), "2A6184F983C10EA6"),
        (VENDOR_KEY, ("expected_key",), "2D26CA6943E2FF7E"),
    ],
)
def test_known_answer_lines_are_compared(
    where: tuple[str, str], path: tuple[str, ...], value: object
) -> None:
    """CRC, MISTY1, derivation and vendor-key lines report a changed expected value."""
    assert _mutated(where, path, value)


def test_sta_trace_rounds_are_compared() -> None:
    """A changed intermediate of the STA trace is reported with its round number."""
    trace = _lines("sta_trace.json")[0][1]
    trace["rounds"][6]["after_permutation"] = "0000000000000000"
    assert any(mismatch.startswith("round 7") for mismatch in check_line(trace))


# --- malformed lines are reported, never raised ------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda obj: obj.pop("tid"), "tid"),
        (lambda obj: obj.pop("expected"), "expected"),
        (lambda obj: obj.update(tid="5871715"), "tid"),
        (lambda obj: obj.update(rnd=True), "rnd"),
        (lambda obj: obj.update(decoder_key="XYZ"), "decoder_key"),
        (lambda obj: obj.update(issued_at="yesterday"), "yesterday"),
        (lambda obj: obj.update(kind="lottery"), "lottery"),
        (lambda obj: obj.update(expected=[]), "expected"),
        (lambda obj: obj["expected"].update(token="12345"), "20 digits"),
    ],
)
def test_malformed_token_line_is_reported(change: Any, named: str) -> None:
    """Missing keys, wrong types and unknown kinds give a mismatch naming the problem."""
    obj = _vector(*CREDIT)
    change(obj)
    mismatches = check_line(obj)
    assert mismatches
    assert any(named in mismatch for mismatch in mismatches), mismatches


@pytest.mark.parametrize("obj", [{}, {"id": "X"}, {"rounds": "many"}, {"crc_input_hex": 7}])
def test_unrecognised_or_broken_objects_are_reported(obj: dict[str, Any]) -> None:
    """Objects of no known vector kind, or with broken fields, are mismatches."""
    assert check_line(obj)


def test_a_json_value_that_is_not_an_object_is_reported() -> None:
    """check_line accepts any parsed JSON value and reports a non-object."""
    assert check_line([1, 2])  # type: ignore[arg-type]


def test_run_lines_counts_skips_blank_lines_and_fails_bad_json() -> None:
    """run_lines counts passes and failures, skips blank lines and fails unparsable JSON."""
    good = json.dumps(_vector(*CREDIT))
    bad = _vector(*CREDIT)
    bad["tid"] = 1
    report = run_lines(
        [("f:1", good), ("f:2", "  "), ("f:3", "{not json"), ("f:4", json.dumps(bad))]
    )
    assert (report.passed, report.failed, report.ok) == (1, 2, False)
    assert report.summary == "1 passed, 2 failed"
    assert report.failures[0] == Failure("f:3", "?", report.failures[0].mismatch)
    assert report.failures[0].mismatch.startswith("not valid JSON")
    assert all(str(failure).startswith("FAIL f:4 A/CTSA01-1: ") for failure in report.failures[1:])


def test_empty_report_is_ok() -> None:
    """A run of nothing has nothing failed."""
    assert VectorReport().ok
    assert run_lines([]).summary == "0 passed, 0 failed"


def test_vector_lines_takes_a_whole_json_object_as_one_vector() -> None:
    """A file holding one (pretty-printed) JSON object is one vector at line 1."""
    text = (VECTORS / "sta_trace.json").read_text()
    assert vector_lines("t.json", text) == [("t.json:1", text)]
    assert vector_lines("l.jsonl", '{"a": 1}\n\n{"b": 2}\n') == [
        ("l.jsonl:1", '{"a": 1}'),
        ("l.jsonl:2", ""),
        ("l.jsonl:3", '{"b": 2}'),
    ]
