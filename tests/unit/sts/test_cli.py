"""Tests of the STS codec's command line (:mod:`sts.cli`, ``python -m sts``).

Tokens and keys expected here are copied from the shared vector files (ids in the docstrings),
never produced by the code under test.
"""

from __future__ import annotations

import glob
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sts.cli import main

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"
DK_A = ["--decoder-key", "E653341F9D5BF36F"]  # A/CTSA01-1's meter, DKGA02, base date 1993
NOON = ["--issued-at", "noon", "--base-date", "1993"]
DERIVE_A = [
    *("--vending-key", "ABABABABABABABAB", "--dkga", "2", "--meter", "600727000000000009"),
    *("--sgc", "123456", "--ti", "1", "--krn", "1"),
]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``main(args)`` and return (status, stdout, stderr)."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def _vector_files() -> list[Path]:
    """Every public vector file: the JSON Lines files and the STA trace."""
    assert VECTORS.is_dir(), f"shared vector folder missing: {VECTORS}"
    return [*sorted(VECTORS.glob("*.jsonl")), VECTORS / "sta_trace.json"]


def test_check_vectors_passes_every_public_vector(capsys: pytest.CaptureFixture[str]) -> None:
    """check-vectors on all public files ends with 'N passed, 0 failed' for N vectors, exit 0."""
    files = _vector_files()
    count = 1 + sum(
        sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        for path in files
        if path.suffix == ".jsonl"
    )
    status, out, _ = _run(capsys, "check-vectors", *map(str, files))
    assert out.splitlines() == [f"{count} passed, 0 failed"]
    assert status == 0


def test_check_vectors_reports_a_corrupted_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One corrupted expected token gives a FAIL line with file:line and id, and exit 1."""
    lines = (VECTORS / "group_d.jsonl").read_text(encoding="utf-8").splitlines()
    vector = json.loads(lines[2])
    vector["expected"]["token"] = "00000000000000000000"
    lines[2] = json.dumps(vector)
    path = tmp_path / "corrupted.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, out, _ = _run(capsys, "check-vectors", str(path))
    report = out.splitlines()
    assert report[-1] == f"{len(lines) - 1} passed, 1 failed"
    assert report[0].startswith(f"FAIL {path}:3 {vector['id']}: ")
    assert all(line.startswith(f"FAIL {path}:3 ") for line in report[:-1])
    assert status == 1


def test_check_vectors_counts_unparsable_json_as_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A line that is not JSON is one failure, reported with its line number."""
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "X",\n', encoding="utf-8")
    status, out, _ = _run(capsys, "check-vectors", str(path))
    assert out.splitlines()[0].startswith(f"FAIL {path}:1 ?: not valid JSON")
    assert out.splitlines()[-1] == "0 passed, 1 failed"
    assert status == 1


def test_check_vectors_unreadable_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file that cannot be read is an error (exit 2), not a vector failure."""
    status, out, err = _run(capsys, "check-vectors", str(tmp_path / "missing.jsonl"))
    assert status == 2
    assert err.startswith("error: cannot read")
    assert out == ""


def test_generate_credit_reproduces_a_vector(capsys: pytest.CaptureFixture[str]) -> None:
    """A/CTSA01-1: key E653341F9D5BF36F, TID 5871715, rnd 5, 0.1 kWh -> 23716100501183194197."""
    args = ("--tid", "5871715", "--rnd", "5", "--tenths", "1")
    status, out, _ = _run(capsys, "generate", "credit", *DK_A, *args)
    assert status == 0
    assert out.splitlines()[0] == "2371 6100 5011 8319 4197"
    assert "0.1 kWh" in out


def test_generate_derives_the_key_and_the_tid(capsys: pytest.CaptureFixture[str]) -> None:
    """A/CTSA01-1 again, from the vending key (DKGA02) and issue time 2004-03-01 13:55."""
    when = ("--issued-at", "2004-03-01T13:55", "--base-date", "1993")
    args = (*DERIVE_A, *when, "--rnd", "5", "--amount", "0.1", "--json")
    status, out, _ = _run(capsys, "generate", "credit", *args)
    report = json.loads(out)
    assert status == 0
    assert report["token"] == "23716100501183194197"
    assert report["fields"]["tid"] == 5871715
    assert report["kind"] == "credit"


def test_generate_currency_reproduces_a_vector(capsys: pytest.CaptureFixture[str]) -> None:
    """G/POS07-CTSA21-2: gas currency 1638300000 units at TID 6515162 -> 20134722758982004247."""
    key = ("--decoder-key", "87F3ECBB2E46B48F")
    args = ("--utility", "gas", "--units", "1638300000", "--tid", "6515162", *key, "--json")
    status, out, _ = _run(capsys, "generate", "currency", *args)
    assert status == 0
    assert json.loads(out)["token"] == "20134722758982004247"


def test_generate_test_token_needs_no_key(capsys: pytest.CaptureFixture[str]) -> None:
    """A/CTSA02-1: class 1 subclass 0 with all 36 control bits -> 56493153725450313471."""
    status, out, _ = _run(capsys, "generate", "test", "--control", "0xFFFFFFFFF")
    assert status == 0
    assert out.splitlines()[0] == "5649 3153 7254 5031 3471"


def test_decode_prints_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """Decoding A/CTSA01-1 shows class, subclass, kind, TID with its date, rnd and amount."""
    token = "2371 6100 5011 8319 4197"
    status, out, _ = _run(capsys, "decode", token, *DK_A, "--base-date", "1993")
    rows = dict(line.split(":", 1) for line in out.splitlines())
    assert status == 0
    assert rows["class"].strip().startswith("0")
    assert rows["subclass"].strip() == "0"
    assert "credit" in rows["kind"]
    assert rows["tid"].strip().startswith("5871715 (2004-03-01 13:55")
    assert rows["rnd"].strip() == "5"
    assert rows["value_tenths"].strip() == "1"


def test_decode_class_1_without_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    """A/CTSA02-2 (class 1 subclass 1) decodes without a key: control bits and code."""
    status, out, _ = _run(capsys, "decode", "02305843005052951967", "--json")
    report = json.loads(out)
    assert status == 0
    assert (report["class"], report["subclass"]) == (1, 1)
    assert report["fields"]["control"] == 268435455
    assert report["fields"]["manufacturer_code"] == 0


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (DERIVE_A, "E653341F9D5BF36F"),  # DK/01's meter and A/CTSA01-1: DKGA02 (no base date)
        (
            [
                *("--vending-key", "ABABABABABABABAB949494949494949401234567", "--dkga", "4"),
                *("--meter", "600727000000000009", "--sgc", "123457", "--ti", "1", "--krn", "1"),
                *("--base-date", "1993", "--ea", "7"),
            ],
            "AA4BAA8749C10D27",  # DK/20
        ),
    ],
)
def test_derive_key_reproduces_a_derivation_row(
    capsys: pytest.CaptureFixture[str], args: list[str], key: str
) -> None:
    """derive-key prints the decoder key of a dk_derivation row (DKGA02 and DKGA04)."""
    status, out, _ = _run(capsys, "derive-key", *args)
    assert (status, out) == (0, key + "\n")


def test_key_change_reproduces_a_two_token_set(capsys: pytest.CaptureFixture[str]) -> None:
    """A/CTSA05-1a/b: new key derived with TI 2 -> 51638423060042734509, 15361891762113502242."""
    status, out, _ = _run(capsys, "generate", "key-change", *DERIVE_A, "--new-ti", "2", "--json")
    tokens = [report["token"] for report in json.loads(out)["tokens"]]
    assert status == 0
    assert tokens == ["51638423060042734509", "15361891762113502242"]


def test_key_change_reproduces_a_four_token_ea11_set(capsys: pytest.CaptureFixture[str]) -> None:
    """B/CTSA05_04-1a..d: EA11 set carrying SGC 123457, given the old and the new key."""
    keys = ("--decoder-key", "F94B6ED353C3BFDB113E2D3A7EA3C41D")
    new = ("--new-decoder-key", "B208834372EF892EF6E04C28593090D4", "--new-sgc", "123457")
    ids = ("--new-krn", "1", "--new-ti", "2")
    status, out, _ = _run(capsys, "generate", "key-change", *keys, *new, *ids, "--json")
    tokens = [report["token"] for report in json.loads(out)["tokens"]]
    assert status == 0
    assert tokens == [
        "34812744915211133004",
        "46903925208523674737",
        "71464563847088610152",
        "67904239402617643990",
    ]


def test_key_change_with_new_sgc_is_a_three_token_ea07_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """G/POS07-CTSA05-4a..c: EA07 3-token set carrying SGC 201457."""
    keys = ("--decoder-key", "87F3ECBB2E46B48F", "--new-decoder-key", "7F78CDD220BE39B8")
    ids = ("--new-sgc", "201457", "--new-krn", "1", "--new-ti", "2")
    status, out, _ = _run(capsys, "generate", "key-change", *keys, *ids)
    assert status == 0
    assert out.splitlines()[0::2][:3] == [
        "5250 6022 8503 9960 3630",
        "2297 9178 2799 9720 8272",
        "3962 0459 0596 1503 7790",
    ]


def test_output_never_shows_a_key_except_derive_key(capsys: pytest.CaptureFixture[str]) -> None:
    """The generate and decode commands print neither the decoder key nor the new key's bits."""
    _run(capsys, "generate", "key-change", *DERIVE_A, "--new-ti", "2", "--json")
    status, out, _ = _run(capsys, "generate", "key-change", *DERIVE_A, "--new-ti", "2")
    decoded = _run(capsys, "decode", "51638423060042734509", *DK_A, "--json")[1]
    assert status == 0
    for text in (out, decoded):
        assert "E653341F9D5BF36F" not in text.upper()
        assert "060B8643" not in text.upper()  # new key (A/CTSA05-1a) bits 63..32
        assert str(0x060B8643) not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "credit", "--decoder-key", "XYZ", "--tid", "1", "--tenths", "1"], "hex"),
        (["generate", "credit", *DK_A, *NOON, "--tenths", "1"], "noon"),
        (["generate", "credit", *DK_A, "--tenths", "1"], "--tid"),
        (["generate", "credit", "--tid", "1", "--tenths", "1"], "key"),
        (["generate", "credit", *DK_A, "--tid", "99999999", "--tenths", "1"], "TID"),
        (["generate", "credit", *DK_A, "--tid", "1", "--amount", "abc"], "abc"),
        (["generate", "key-change", *DK_A, "--new-krn", "1", "--new-ti", "1"], "--new-decoder"),
        (["decode", "12345", *DK_A], "20 digits"),
        (["decode", "23716100501183194197", "--decoder-key", "0ABC12DEF3456789"], "token"),
        (["derive-key", "--vending-key", "ABABABABABABABAB", "--dkga", "2"], "--meter"),
        (["derive-key", *DERIVE_A[:-2], "--krn", "12"], "key revision"),
    ],
)
def test_bad_input_exits_2_with_an_error_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad input prints 'error: ...' on stderr and exits 2, without a traceback."""
    status, out, err = _run(capsys, *args)
    assert status == 2
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    "args", [[], ["frobnicate"], ["generate", "credit", "--tenths", "x"], ["decode"]]
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    """Usage errors found by argparse return 2 from main() (no SystemExit escapes) with 'error:'."""
    status, _, err = _run(capsys, *args)
    assert status == 2
    assert "error:" in err


GENERATE_KINDS = [
    *("credit", "currency", "mpl", "mppul", "clear-credit", "tariff-rate", "water-factor"),
    *("clear-tamper", "extended", "test", "key-change"),
]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["check-vectors"],
        ["generate"],
        ["decode"],
        ["derive-key"],
        ["demo"],
        *(["generate", kind] for kind in GENERATE_KINDS),
    ],
)
def test_help_of_every_command_has_examples(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """--help works on every (sub)command, exits 0 and shows examples."""
    status, out, _ = _run(capsys, *command, "--help")
    assert status == 0
    assert "examples:" in out
    assert "python -m sts" in out


def test_demo_accepts_then_refuses_as_used_then_rekeys(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo: credit accepted, repeat refused as used, key change, new-key credit accepted."""
    status, out, _ = _run(capsys, "demo")
    assert status == 0
    order = ["[ACCEPT]", "[USED]", "[KCT1_ACCEPTED]", "[KCT2_ACCEPTED]", "[ACCEPT]"]
    positions, start = [], 0
    for marker in order:
        start = out.index(marker, start) + 1
        positions.append(start)
    assert positions == sorted(positions)
    assert "credit 25.0 kWh" in out
    assert "credit 35.0 kWh" in out


def test_python_dash_m_sts_runs_the_cli() -> None:
    """``python -m sts`` runs main() and exits with its status."""
    result = subprocess.run(  # noqa: S603 - fixed arguments, this interpreter
        [sys.executable, "-m", "sts", "check-vectors", str(VECTORS / "crc.jsonl")],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert (result.returncode, result.stdout) == (0, "4 passed, 0 failed\n")


def test_every_help_example_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example printed by --help (from the repository root) runs and exits 0."""
    monkeypatch.chdir(Path(__file__).resolve().parents[3])
    commands = [[], ["check-vectors"], ["generate"], ["decode"], ["derive-key"], ["demo"]]
    commands += [["generate", kind] for kind in GENERATE_KINDS]
    examples: set[str] = set()
    for command in commands:
        help_text = _run(capsys, *command, "--help")[1]
        examples |= {
            line.strip() for line in help_text.splitlines() if line.startswith("  python -m sts ")
        }
    assert len(examples) > len(commands)
    for example in sorted(examples):
        words = shlex.split(example)[3:]
        if "*" in example:  # a shell glob: expand it as the shell would
            words = [path for word in words for path in sorted(glob.glob(word)) or [word]]
        status, _, err = _run(capsys, *words)
        assert (example, status, err) == (example, 0, "")
