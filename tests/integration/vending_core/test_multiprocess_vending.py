"""Exactly-once vending across OS processes, on PostgreSQL and on SQLite.

Two worker processes (``tests.support.vend_worker``) sell to one meter at the same
moment through their own engines and connection pools. The database alone keeps them
apart: the meter row lock serialises TID allocation, the idempotency key makes a
duplicate wait for and replay the first answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import sts
from tests.support.core_world import PAN, SGC, VENDING_KEY, seed
from vending_core.adapters.compose import sql_core

ROOT = Path(__file__).resolve().parents[3]
KEK = secrets.token_bytes(32)
METER = "00000000000"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, seeded database of each kind (PostgreSQL needs the server)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vend.sqlite3'}"
    factory: Callable[[str], str] = request.getfixturevalue("postgres_database_factory")
    return factory("multiproc")


async def _seed(url: str) -> None:
    async with sql_core(url, KEK, migrate=True) as core:
        await seed(core)


async def _workers(url: str, count: int, processes: int, *extra: str) -> list[dict[str, object]]:
    start_at = time.time() + 2.0  # both processes are up and connected by then
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.vend_worker",
            url,
            KEK.hex(),
            METER,
            str(count),
            "--start-at",
            str(start_at),
            *extra,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        results += [json.loads(line) for line in out.decode().splitlines()]
    return results


def _reference_meter() -> sts.Meter:
    return sts.Meter.provision(
        vending_key=VENDING_KEY,
        dkga=4,
        pan=sts.Pan.parse(PAN),
        sgc=SGC,
        ti=1,
        krn=1,
        kt=sts.KeyType.DUTK,
        base_date=2014,
        ea=7,
    )


async def test_hundred_vends_for_one_meter_get_distinct_tids(database_url: str) -> None:
    """2 processes x 50 vends at once: 100 vends, 100 distinct TIDs, all load in TID order."""
    await _seed(database_url)
    results = await _workers(database_url, 50, 2)
    assert [r for r in results if "error" in r] == []
    tokens = [t for r in results for t in r["tokens"]]  # type: ignore[attr-defined]
    tids = sorted(t["tid"] for t in tokens)
    assert len(tids) == 100
    assert len(set(tids)) == 100
    meter = _reference_meter()
    for token in sorted(tokens, key=lambda t: t["tid"]):
        assert meter.enter(token["token"]).result is sts.MeterResult.ACCEPT
    assert meter.credit_tenths() == 100 * 434  # R100 each on the flat tariff: 43.4 kWh


async def test_fifty_identical_requests_make_one_vend(database_url: str) -> None:
    """2 processes x 25 copies of one request at once: one vend, 50 identical answers."""
    await _seed(database_url)
    results = await _workers(database_url, 25, 2, "--request-id", "the-one")
    assert len(results) == 50
    assert [r for r in results if "error" in r] == []
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 1
    async with sql_core(database_url, KEK) as core, core.uow() as uow:
        meter = await uow.meters.get_by_number(METER)
        assert meter is not None
        assert len(await uow.vends.for_meter(meter.id or 0, limit=100)) == 1
