"""`rpa worker` as a command: what it refuses before it starts."""

from __future__ import annotations

from tests.e2e.conftest import Cli


def test_a_worker_for_an_unknown_process_is_exit_2(lite: Cli) -> None:
    result = lite("worker", "--process", "invoics", "--until-empty")
    assert result.code == 2, str(result)
    assert "unknown process(es) invoics" in result.err and "rpa process list" in result.err
