import asyncio
import re
from pathlib import Path

import pytest

from gateway.cli import main
from tests.e2e.conftest import LiveGateway
from tests.support.api_world import METER, ledger, new_client

TOKEN = re.compile(r"credit\s+(\d{4} \d{4} \d{4} \d{4} \d{4})")


async def test_cli_vends_through_the_api_and_a_replay_prints_the_same_token(
    gateway: LiveGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vendgate vend --url` sells R50.00 once; the same --request-id prints the same token."""
    _, created = await new_client(gateway)
    secret_file = tmp_path / "secret"
    secret_file.write_text(created.secret + "\n", encoding="utf-8")
    argv = [
        "vend",
        METER,
        "50",
        "--url",
        gateway.base_url,
        "--key",
        created.key_id,
        "--secret-file",
        str(secret_file),
        "--request-id",
        "cli-1",
    ]
    assert await asyncio.to_thread(main, argv) == 0
    first = capsys.readouterr().out
    assert await asyncio.to_thread(main, argv) == 0
    second = capsys.readouterr().out
    assert "(copy)" in second
    first_token = TOKEN.search(first)
    second_token = TOKEN.search(second)
    assert first_token is not None
    assert second_token is not None
    assert first_token.group(1) == second_token.group(1)
    assert (await ledger(gateway)).balance == 1_000_000 - 5_000  # R50.00 = 5,000 cents, once


async def test_cli_reports_a_refusal(
    gateway: LiveGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong secret: the CLI exits 1 and prints the 401 problem's detail."""
    _, created = await new_client(gateway)
    secret_file = tmp_path / "secret"
    secret_file.write_text("not-the-secret", encoding="utf-8")
    argv = ["vend", METER, "50", "--url", gateway.base_url, "--key", created.key_id]
    argv += ["--secret-file", str(secret_file)]
    assert await asyncio.to_thread(main, argv) == 1
    assert "refused (401): The request signature does not match." in capsys.readouterr().err
