"""`rpa serve --web`: the console and the API beside the scheduler and a worker in one
process; an item added over the API is done by that node's own worker; SIGTERM stops
both, and the console's port is free again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from orchestrator.db import open_sql_store
from orchestrator.services import accounts
from orchestrator.services.access import cli_principal
from orchestrator.services.processes import register
from orchestrator.settings import load_settings
from tests.e2e.conftest import free_port, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RPA = Path(sys.executable).with_name("rpa")
PROCESS = textwrap.dedent("""\
    name: pinger
    owner: Operations
    cost_centre: "1000"
    bot: noop
    manual_minutes_per_item: 1
    retry: {max_attempts: 2, backoff: 0s}
    """)


def test_serve_with_the_console(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env |= {"RPA_DATA_DIR": str(data), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert subprocess.run([str(RPA), "init"], env=env, capture_output=True, check=False
                          ).returncode == 0
    (tmp_path / "pinger.yaml").write_text(PROCESS)
    store = open_sql_store(load_settings(data_dir=data), writer="e2e-setup")
    admin = cli_principal("os:e2e")
    register(store, admin, [tmp_path / "pinger.yaml"])
    accounts.add_account(store, admin, "feeder", "operator", password="x" * 16)
    token, _ = accounts.create_token(store, admin, "feeder")
    store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as log:
        node = subprocess.Popen([str(RPA), "serve", "--web", "--web-port", str(port),
                                 "--slots", "1"], env=env, cwd=tmp_path, stdout=log,
                                stderr=log, start_new_session=True)
    try:
        auth = {"authorization": f"Bearer {token}"}
        wait_healthy(url, node, tmp_path / "serve.log")
        added = httpx.post(url + "/api/v1/processes/pinger/items", headers=auth,
                           json={"items": [{"reference": "P-1", "payload": {}}]}).json()
        item = added["ids"]["P-1"]
        deadline = time.monotonic() + 90
        while httpx.get(f"{url}/api/v1/items/{item}", headers=auth).json()["status"] != "done":
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        workers = httpx.get(url + "/api/v1/workers", headers=auth).json()
        assert [w["role"] for w in workers] == ["serve"]
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/api/v1/health", timeout=2)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait(timeout=30)
