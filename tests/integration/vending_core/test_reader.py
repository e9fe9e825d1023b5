"""Read-only units of work on SQLite: inline reads of committed data, writes refused."""

from __future__ import annotations

import pytest

from config.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY
from vending_core.adapters.compose import sql_core
from vending_core.adapters.errors import RepositoryError
from vending_core.domain.model import MeterStatus
from vending_core.service.demo_data import DEMO_METERS, load_demo_data


async def test_reader_sees_committed_data_only_and_refuses_writes(sqlite_url: str) -> None:
    """A change is invisible to readers until its unit of work commits; readers cannot write.

    The writer blocks meter 1 (status change) and, before committing, a reader still sees it
    active; after the commit the reader sees it blocked. An UPDATE through a reader raises.
    """
    async with sql_core(sqlite_url, DEVELOPMENT_KEY_ENCRYPTION_KEY) as core:
        await load_demo_data(core)
        number = DEMO_METERS[0].number
        async with core.uow() as writer:
            meter = await writer.meters.get_by_number(number, lock=True)
            assert meter is not None
            meter.status = MeterStatus.BLOCKED
            await writer.meters.update(meter)
            async with core.read_uow() as reader:
                seen = await reader.meters.get_by_number(number)
                assert seen is not None
                assert seen.status is MeterStatus.ACTIVE
            await writer.commit()
        async with core.read_uow() as reader:
            seen = await reader.meters.get_by_number(number)
            assert seen is not None
            assert seen.status is MeterStatus.BLOCKED
            with pytest.raises(RepositoryError, match="read-only"):
                await reader.meters.update(seen)
