"""/metrics listens where the operator says: 127.0.0.1 by default, 0.0.0.0 in a
container whose published port is the boundary. A real `rpa scheduler`, checked by
what the kernel says it is bound to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

RPA = str(Path(sys.executable).with_name("rpa"))


def listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) listening on `port`."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(address)
    return found


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    return env | {"RPA_DATA_DIR": str(tmp_path / "data"), **extra}


@pytest.mark.parametrize(("args", "extra", "bound"), [
    ([], {}, "0100007F"),                                   # 127.0.0.1, the default
    (["--metrics-host", "0.0.0.0"], {}, "00000000"),
    ([], {"RPA_METRICS_HOST": "0.0.0.0"}, "00000000"),
])
def test_metrics_listen_where_they_are_told(tmp_path: Path, args: list[str],
                                            extra: dict[str, str], bound: str) -> None:
    env = env_for(tmp_path, **extra)
    assert subprocess.run([RPA, "init"], env=env, capture_output=True, timeout=120
                          ).returncode == 0
    port = free_port()
    node = subprocess.Popen([RPA, "scheduler", "--metrics-port", str(port), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    assert b"rpa_" in r.read()
                break
            except OSError:
                assert time.monotonic() < deadline and node.poll() is None
                time.sleep(0.2)
        assert listening(port) == {bound}
    finally:
        node.terminate()
        node.wait(timeout=30)


@pytest.mark.parametrize(("args", "extra"), [
    (["--metrics-host", "not a host!"], {}),
    ([], {"RPA_METRICS_HOST": "999.1.1.1 x"}),
])
def test_a_bad_address_is_refused_at_start(tmp_path: Path, args: list[str],
                                           extra: dict[str, str]) -> None:
    env = env_for(tmp_path, **extra)
    subprocess.run([RPA, "init"], env=env_for(tmp_path), capture_output=True, timeout=120)
    result = subprocess.run([RPA, "scheduler", "--metrics-port", "0", *args], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "address to listen on" in result.stderr and "Traceback" not in result.stderr
