"""The breaker under `rpa serve`, against the bundled invoice portal: switched to fail
every request, the process pauses itself after 5 application errors in a row,
spends no further attempts, and one alert reaches the operations webhook. When the
portal recovers, the probe resumes the process and every item is right."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.process_config import ProcessConfig
from queues.schema import attempts_t, audit_events
from targets import Misbehaviour, TargetServer
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import (
    CREDENTIALS,
    INPUT_MODELS,
    INVOICES,
    Pipeline,
    assert_expected_outcomes,
    invoice_expectations,
)
from tests.support.alert_sinks import WebhookSink, wait_for

pipeline = fixtures.pipeline
portals = fixtures.portals
pytestmark = [pytest.mark.browser, pytest.mark.slow]
RPA = Path(sys.executable).with_name("rpa")


def attempts(pipeline: Pipeline) -> int:
    with pipeline.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(attempts_t)).scalar()
                   or 0)


def breaker_events(pipeline: Pipeline) -> list[str]:
    with pipeline.store.engine.connect() as conn:
        return list(conn.execute(sa.select(audit_events.c.action).where(
            audit_events.c.action.like("process.breaker%")).order_by(audit_events.c.id))
            .scalars())


def test_a_failing_target_trips_the_breaker_and_its_recovery_resumes_the_process(
        pipeline: Pipeline, portals: Callable[..., TargetServer], tmp_path: Path) -> None:
    server = portals("invoice", count=10, misbehaviour=Misbehaviour(error_share=1.0))
    pipeline.invoices(server, 10, retry={"max_attempts": 10, "backoff": 0.2,
                                         "backoff_max": 1})
    config = ProcessConfig(
        name=INVOICES, owner="Finance service", cost_centre="1200", bot=INVOICES,
        manual_minutes_per_item=6, retry={"max_attempts": 10, "backoff": 0.2,
                                          "backoff_max": 1},
        lease=30.0, concurrency=2, input_model=INPUT_MODELS[INVOICES],
        bot_config={"base_url": server.url, "credential": CREDENTIALS[INVOICES]},
        breaker={"after": 5, "cool_down": "20s"})
    pipeline.store.upsert_process(config.to_spec(), actor="test:e2e")
    with WebhookSink() as hook:
        (tmp_path / "alerts.yaml").write_text(
            f"webhooks:\n  - name: ops\n    url: {hook.url}\n    template: teams\n",
            encoding="utf-8")
        env = {**os.environ, "RPA_DATA_DIR": str(pipeline.data_dir),
               "RPA_ALERTS_FILE": str(tmp_path / "alerts.yaml"), "RPA_LOG_FORMAT": "json"}
        with (tmp_path / "serve.log").open("wb") as log:
            proc = subprocess.Popen([str(RPA), "serve", "--node", "solo", "--slots", "2",
                                     "--no-trace"], env=env, stdout=log, stderr=log,
                                    start_new_session=True)
        try:
            wait_for(lambda: pipeline.store.get_process(INVOICES).paused, 180)
            paused_at = time.monotonic()
            assert breaker_events(pipeline) == ["process.breaker_opened"]
            time.sleep(3)  # in-flight attempts finish (and count for nothing)
            spent = attempts(pipeline)
            assert 5 <= spent <= 6  # the fifth error tripped it; one more may have been out
            time.sleep(max(0.0, paused_at + 12 - time.monotonic()))
            assert attempts(pipeline) == spent, "attempts were spent while paused"
            wait_for(lambda: len(hook.bodies) >= 1, 30)
            cards = [b for b in hook.bodies if "paused itself" in str(b)]
            assert len(cards) == 1 and len(hook.bodies) == 1  # one alert, on its one channel

            server.misbehave(error_share=0.0)  # the target recovers
            wait_for(lambda: not pipeline.store.get_process(INVOICES).paused, 60)
            wait_for(lambda: all(i.status in ("done", "business_failed")
                                 for i in pipeline.items(INVOICES).values()), 180)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=90)
    assert breaker_events(pipeline) == ["process.breaker_opened", "process.breaker_probe",
                                        "process.breaker_closed"]
    assert_expected_outcomes(pipeline.items(INVOICES), invoice_expectations(10))
