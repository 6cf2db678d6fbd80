"""A virtualenv of its own for the peer job queues (PgQueuer, procrastinate, huey).

Why a separate venv: the peers pull in their own drivers and pins (asyncpg,
psycopg pool, typer/uvloop versions, ...) and the project's `.venv` is locked.
Keeping them apart means a benchmark of a peer can never change which versions
the orchestrator itself is tested with, and the peers are measured with the
dependencies they choose for themselves.

Usage:
    python3.11 bench/peers/venv.py [PATH]     # creates/updates, prints the venv's python

or from Python: `ensure_peers_venv(Path(...))` returns the venv's python.

The function is idempotent: when the venv already has exactly the pinned
versions, it neither recreates it nor calls pip, so a benchmark script may call
it before every run without touching the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: The versions compared. Exact pins for the peers (the figures are only
#: comparable for a known release); drivers with a floor, as the brief says.
PEER_PINS: dict[str, str] = {
    "pgqueuer": "1.6.0",
    "procrastinate": "3.10.0",
    "huey": "3.5.4",
}
DRIVER_REQUIREMENTS: list[str] = ['psycopg[binary]>=3.2', "asyncpg"]

#: Where the CLI puts the venv by default: beside this file, so that running it
#: never creates anything outside bench/peers/ (the function's own default is
#: the brief's `.venv-peers`, relative to the working directory).
DEFAULT_CLI_PATH = Path(__file__).resolve().parent / ".venv-peers"


def _venv_python(path: Path) -> Path:
    return path / "bin" / "python"


def _installed_versions(python: Path) -> dict[str, str | None]:
    """Versions of the peers and drivers as the venv's own python sees them."""
    names = [*PEER_PINS, "psycopg", "psycopg-binary", "asyncpg"]
    code = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        f"for n in {names!r}:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    res = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        return {}
    return json.loads(res.stdout)


def _psycopg_ok(version: str | None) -> bool:
    if not version:
        return False
    major, minor = (int(p) for p in version.split(".")[:2])
    return (major, minor) >= (3, 2)


def is_complete(python: Path) -> bool:
    """True when the venv at `python` has exactly the pinned peers and the drivers."""
    if not python.exists():
        return False
    versions = _installed_versions(python)
    if not versions:
        return False
    pins_ok = all(versions.get(name) == ver for name, ver in PEER_PINS.items())
    return (pins_ok and _psycopg_ok(versions.get("psycopg"))
            and versions.get("psycopg-binary") is not None
            and versions.get("asyncpg") is not None)


def ensure_peers_venv(path: Path = Path(".venv-peers")) -> Path:
    """Create (or complete) the peers' venv at `path`; return its python.

    `python3.11 -m venv` rather than `sys.executable -m venv`, because the
    caller may itself run inside the project's venv, and a venv made from a
    venv's python ties the new one to the project's interpreter path.
    """
    path = Path(path).absolute()
    python = _venv_python(path)
    if is_complete(python):
        return python
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(path)], check=True)
    requirements = [f"{name}=={ver}" for name, ver in PEER_PINS.items()]
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check",
         *requirements, *DRIVER_REQUIREMENTS],
        check=True,
    )
    if not is_complete(python):
        raise RuntimeError(f"{path}: pip finished but versions differ: "
                           f"{_installed_versions(python)}")
    return python


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DEFAULT_CLI_PATH
    python = ensure_peers_venv(target)
    print(python)
    print(json.dumps(_installed_versions(python)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
