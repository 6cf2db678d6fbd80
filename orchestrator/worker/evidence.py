"""Where a failed attempt's screenshot and trace go.

Paths are built from ids only (process, item id, attempt number), never from
payload values or error text, so no secret or personal datum lands in a file
name. Folders are 0700 and files 0600: they show people's data.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.private_files import make_private, make_private_dir, write_private

SAFE = re.compile(r"[^a-z0-9-]+")


class EvidenceDir:
    """The evidence folder of one attempt: `evidence/<process>/<item>/a<attempt>-<name>`."""

    def __init__(self, root: Path, process: str, item_id: int, attempt: int):
        self.folder = root / SAFE.sub("-", process.lower()) / str(item_id)
        self.prefix = f"a{attempt}"
        self.files: dict[str, str] = {}

    def path(self, kind: str, suffix: str) -> Path:
        make_private_dir(self.folder)
        name = SAFE.sub("-", kind.lower()).strip("-") or "file"
        return self.folder / f"{self.prefix}-{name}{suffix}"

    def save(self, kind: str, data: bytes, suffix: str = ".bin") -> Path:
        target = write_private(self.path(kind, suffix), data)
        self.files[kind] = str(target)
        return target

    def note(self, kind: str, path: Path) -> None:
        """A file another program wrote here (Playwright's trace): made private too."""
        make_private(path)
        self.files[kind] = str(path)
