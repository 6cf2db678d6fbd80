"""A console and API over a real SQLite file (or PostgreSQL): two processes of two
owners, one account and one API token per role, a few items in each state."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.db import open_sql_store, upgrade
from orchestrator.services import accounts
from orchestrator.services.access import cli_principal
from orchestrator.services.processes import register
from orchestrator.settings import Settings, load_settings
from orchestrator.web.app import create_app
from queues import NewItem
from queues.sql_store import SqlStore
from tests.conftest import truncate_all

ROOT = Path(__file__).resolve().parents[2]
FINANCE_OWNER = "Finance service (Økonomitjenesten)"
HR_OWNER = "HR service (HR-tjenesten)"
PASSWORD = "correct horse battery staple"
ADMIN = cli_principal("os:test")
ROLES = {  # account name -> (role, owner, payload access)
    "ada": ("admin", None, False),
    "otto": ("operator", None, False),
    "fiona": ("owner", FINANCE_OWNER, False),
    "hans": ("owner", HR_OWNER, False),
    "frank": ("finance", None, False),
    "aud": ("auditor", None, False),
    "audp": ("auditor", None, True),
}


@dataclass
class Web:
    settings: Settings
    store: SqlStore
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)  # label -> item id

    def as_(self, name: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[name]}"}

    def login(self, name: str, password: str = PASSWORD) -> TestClient:
        """A fresh client logged in through the form, like a browser."""
        client = TestClient(self.client.app, base_url="https://testserver")
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        done = client.post("/login", data={"name": name, "password": password,
                                           "csrf": token.group(1)}, follow_redirects=False)
        assert done.status_code == 303, done.text[:500]
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field in the page"
    return found.group(1)


def build(settings: Settings) -> Web:
    from orchestrator.private_files import make_private_dir
    from orchestrator.secrets import ensure_key_file

    make_private_dir(settings.data_dir)
    upgrade(settings.db_url)
    ensure_key_file(settings)
    store = open_sql_store(settings, writer="web:test")
    register(store, ADMIN, sorted((ROOT / "config" / "processes").glob("*.yaml")))
    web = Web(settings, store, TestClient(create_app(settings, store),
                                          base_url="https://testserver"))
    for name, (role, owner, payloads) in ROLES.items():
        accounts.add_account(store, ADMIN, name, role, password=PASSWORD, owner=owner,
                             payload_access=payloads)
        web.tokens[name], _ = accounts.create_token(store, ADMIN, name, expires_in=3600)
    added = store.enqueue("invoice-approval", [
        NewItem(reference=f"INV-{n}",
                payload={"invoice_number": f"INV-2026-{1000 + n}", "amount": 100 + n})
        for n in range(1, 6)], actor="test").added
    web.items.update({f"inv{n}": added[f"INV-{n}"] for n in range(1, 6)})
    hr = store.enqueue("applicant-registration", [
        NewItem(reference="APP-1", payload={"full_name": "Kari Nordmann",
                                            "national_id": "01010112345",
                                            "email": "kari@example.no",
                                            "position": "Konsulent"})], actor="test").added
    web.items["hr1"] = hr["APP-1"]
    # one business exception, to retry and abandon
    claimed = store.claim("invoice-approval", "w1", limit=1)
    store.fail_business(claimed[0].id, "w1", code="AMOUNT_MISMATCH", message="amount differs")
    web.items["failed"] = claimed[0].id
    return web


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    """The console over a SQLite file."""
    settings = load_settings(data_dir=tmp_path / "data")
    built = build(settings)
    yield built
    built.client.close()
    built.store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def web_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    """The console over a SQLite file, then over PostgreSQL."""
    url = None
    if request.param == "postgres":
        url = str(request.getfixturevalue("pg_database"))
        truncate_all(url)
    settings = load_settings(data_dir=tmp_path / "data", database_url=url)
    built = build(settings)
    yield built
    built.client.close()
    built.store.close()
