"""The service's scheduled tick: a failure is logged with its cause, and the schedule goes on."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

import xinyong.process.workflow as workflow
from xinyong.api.app import _ticking


def test_a_failed_tick_is_logged_and_the_next_one_runs(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    calls: list[Any] = []

    def failing_tick(ledger: Any, policy: Any) -> None:
        calls.append((ledger, policy))
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(workflow, "tick", failing_tick)
    service = SimpleNamespace(ledger="the ledger", policy="the policy")

    async def run_a_while() -> None:
        task = asyncio.create_task(_ticking(service, 0.01))  # type: ignore[arg-type]
        while len(calls) < 3 and not task.done():
            await asyncio.sleep(0.01)
        assert not task.done(), "the schedule stopped after a failed tick"
        task.cancel()

    with caplog.at_level(logging.ERROR, logger="xinyong.api.app"):
        asyncio.run(run_a_while())
    assert calls[0] == ("the ledger", "the policy") and len(calls) >= 3
    failures = [r for r in caplog.records if "scheduled tick failed" in r.getMessage()]
    assert len(failures) >= 2
    assert failures[0].exc_info is not None and "the store is gone" in str(failures[0].exc_info[1])
