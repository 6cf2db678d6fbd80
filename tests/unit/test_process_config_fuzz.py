"""Whatever bytes a process file holds, load_process returns a config or raises ConfigError."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import ConfigError
from orchestrator.process_config import ProcessConfig, load_process
from tests.unit.test_process_config import GOOD

TOKENS = st.sampled_from([
    "name: ", "lease: ", "sla: ", "retry:\n  ", "backoff: ", "triggers:\n  - ", "&a ", "*a",
    "[", "]", "{", "}", ": ", "\n", "  ", "- ", "? ", "!!python/object:os.system ", ".nan",
    ".inf", "-1", "0", "1e999", "'", '"', "#", "\t", "\x00", "\ufeff", "yes", "~", "5m",
    "misfire_grace: ", "interval: ", "cron: '* * * * *'", "owner: x", "bot: noop",
])


def _loads(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            assert isinstance(load_process(path), ProcessConfig)


FAST = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    _loads(data)


@FAST
@given(st.lists(TOKENS, max_size=40).map("".join))
def test_yaml_ish_text(text: str) -> None:
    _loads(text.encode("utf-8", "surrogatepass"))


@FAST
@given(st.integers(0, len(GOOD)), st.lists(TOKENS, max_size=6).map("".join))
def test_good_file_with_noise_spliced_in(at: int, noise: str) -> None:
    _loads((GOOD[:at] + noise + GOOD[at:]).encode())
