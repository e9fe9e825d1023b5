"""Tests of the ``vendgate`` command line (:mod:`gateway.cli`).

The codec's CLI is replaced by a fake ``sts.cli`` module that records its calls, so these tests
pin down what ``vendgate`` hands over, not what the codec does with it.
"""

from __future__ import annotations

import sys
import tomllib
import types
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from gateway.cli import main

_PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"
_FAKE_STATUS = 7


class FakeStsCli:
    """Stands in for ``sts.cli``: records each ``main(argv)`` call and returns a fixed status."""

    def __init__(self) -> None:
        self.calls: list[list[str] | None] = []

    def main(self, argv: list[str] | None = None) -> int:
        """Record ``argv`` and return a status the real CLI would not choose by accident."""
        self.calls.append(argv)
        return _FAKE_STATUS


@pytest.fixture
def fake_sts_cli(monkeypatch: pytest.MonkeyPatch) -> FakeStsCli:
    """Install a fake ``sts.cli`` module for the duration of one test."""
    fake = FakeStsCli()
    module = types.ModuleType("sts.cli")
    module.main = fake.main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sts.cli", module)
    return fake


@pytest.mark.parametrize(
    "args",
    [
        ["check-vectors", "a.jsonl", "b.jsonl"],
        ["--help"],
        ["-h"],
        ["--version"],
        ["encode", "--meter", "01234567890", "--", "-x"],
        [],
    ],
)
def test_sts_hands_every_following_argument_to_the_codec_cli(
    fake_sts_cli: FakeStsCli, args: list[str]
) -> None:
    """``vendgate sts ...`` passes the rest unchanged, options and ``--`` included."""
    status = main(["sts", *args])

    assert fake_sts_cli.calls == [args]
    assert status == _FAKE_STATUS


def test_demo_rejects_extra_arguments(
    fake_sts_cli: FakeStsCli, capsys: pytest.CaptureFixture[str]
) -> None:
    """``vendgate demo`` takes no arguments: extra ones are a usage error, nothing runs."""
    with pytest.raises(SystemExit) as exited:
        main(["demo", "extra"])

    assert exited.value.code == 2  # argparse's usage-error status
    assert "unrecognized arguments: extra" in capsys.readouterr().err
    assert fake_sts_cli.calls == []


def test_unknown_or_missing_command_is_a_usage_error(fake_sts_cli: FakeStsCli) -> None:
    """An unknown command, or none at all, exits with status 2."""
    for argv in (["bogus"], []):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert fake_sts_cli.calls == []


def test_help_describes_vendgate_and_its_commands(
    fake_sts_cli: FakeStsCli, capsys: pytest.CaptureFixture[str]
) -> None:
    """``vendgate --help`` names Vendgate and lists its commands without running them."""
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "Vendgate" in out
    assert "sts" in out
    for command in ("demo", "demo-data", "vend", "db"):
        assert command in out
    assert fake_sts_cli.calls == []


def test_version_is_the_one_in_pyproject(capsys: pytest.CaptureFixture[str]) -> None:
    """``vendgate --version`` prints the installed distribution's version (pyproject's)."""
    expected = tomllib.loads(_PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]

    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out == f"vendgate {expected}\n"


def test_console_script_points_at_main() -> None:
    """The installed ``vendgate`` console script runs :func:`gateway.cli.main`."""
    (script,) = entry_points(group="console_scripts", name="vendgate")

    assert script.value == "gateway.cli:main"
    assert script.load() is main
