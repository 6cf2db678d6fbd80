"""A process's `browser:` settings reach the page its bot works in: window size,
language, time zone, user agent, and HTTP authentication from a stored credential.
Real Chromium, the real worker, a real SQLite file and a local server that asks
for Basic authentication."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from bots import Bot, BotContext
from bots import _registry as registry
from orchestrator.credentials import CredentialVault
from orchestrator.process_config import ProcessConfig
from queues import NewItem
from tests.e2e import conftest_bots as fixtures
from tests.e2e.conftest_bots import Pipeline

pipeline = fixtures.pipeline
USER, SECRET = "intranett", "b4sic-s3cret"
SEEN = """() => [innerWidth, innerHeight, navigator.language,
                 Intl.DateTimeFormat().resolvedOptions().timeZone, navigator.userAgent]"""


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")


class LookingBot(Bot):
    """Opens the protected page and says what its browser is like."""

    name = "looking"
    Input = Anything

    async def login(self, page: Any, ctx: BotContext) -> None:
        return None

    async def handle(self, item: Anything, page: Any, ctx: BotContext) -> dict[str, Any]:
        answer = await page.goto(ctx.config["url"])
        width, height, lang, zone, agent = await page.evaluate(SEEN)
        return {"status": answer.status, "width": width, "height": height, "lang": lang,
                "zone": zone, "agent": agent, "text": await page.inner_text("body")}


class Protected(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        wanted = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        if self.headers.get("authorization") != wanted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="intranett"')
            self.end_headers()
            return
        _send(self, b"<html><body>velkommen</body></html>")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Protected)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def register(pipeline: Pipeline, name: str, url: str, browser: dict[str, Any] | None) -> None:
    config = ProcessConfig(name=name, owner="Tests", cost_centre="1", bot="looking",
                           manual_minutes_per_item=1, retry={"max_attempts": 1},
                           bot_config={"url": url}, browser=browser)
    pipeline.store.upsert_process(config.to_spec(), actor="test:e2e")
    pipeline.store.enqueue(name, [NewItem(f"{name}-1", {})], actor="test:e2e")


def test_the_process_file_sets_the_bots_browser(pipeline: Pipeline, site: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "looking", f"{__name__}:LookingBot")
    CredentialVault(pipeline.store, pipeline.settings, actor="test").set("intranett", USER,
                                                                        SECRET)
    register(pipeline, "wide", site, {"viewport": [1600, 1000], "locale": "nb-NO",
                                      "timezone": "America/New_York",
                                      "user_agent": "rpa-test-agent/1.0",
                                      "http_credentials": "intranett"})
    register(pipeline, "plain", site, None)
    report = pipeline.run(slots=1)
    # the plain process has no credential for the site: its only attempt fails
    assert report.done == 1 and report.application == 1
    wide = next(i for i in pipeline.items("wide").values())
    assert wide.output == {"status": 200, "width": 1600, "height": 1000, "lang": "nb-NO",
                           "zone": "America/New_York", "agent": "rpa-test-agent/1.0",
                           "text": "velkommen"}
    assert next(iter(pipeline.items("plain").values())).status == "dead"
    # the same bot in the same slot, other settings: a context of its own, 1280 x 900
    register(pipeline, "plain-open", site, None)
    monkeypatch.setattr(Protected, "do_GET", _open_page)
    pipeline.run(slots=1, processes=["plain-open"])
    opened = next(i for i in pipeline.items("plain-open").values())
    assert opened.output is not None
    assert (opened.output["width"], opened.output["height"]) == (1280, 900)
    assert opened.output["agent"] != "rpa-test-agent/1.0"


def _send(handler: BaseHTTPRequestHandler, body: bytes, kind: str = "text/html",
          **headers: str) -> None:
    handler.send_response(200)
    for name, value in {"content-type": kind, **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _open_page(self: BaseHTTPRequestHandler) -> None:
    _send(self, b"<html><body>open</body></html>")


FILES_PAGE = b"""<html><body>
<a href="/receipt">Last ned kvittering</a>
<label>CV <input type="file" id="cv"></label>
</body></html>"""


class Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/receipt":
            _send(self, b"%PDF-1.4 kvittering", "application/pdf",
                  content_disposition='attachment; filename="kvittering.pdf"')
        else:
            _send(self, FILES_PAGE)

    def log_message(self, *args: Any) -> None:
        return None


class FilingBot(Bot):
    """Downloads the receipt and uploads the CV the item names."""

    name = "filing"
    Input = Anything

    async def handle(self, item: Anything, page: Any, ctx: BotContext) -> dict[str, Any]:
        await page.goto(ctx.config["url"])
        receipt = await ctx.download(page, page.get_by_role("link", name="Last ned").click,
                                     name="receipt")
        await ctx.upload(page.get_by_label("CV"), item.model_extra["cv"])
        chosen = await page.evaluate("document.getElementById('cv').files[0].name")
        return {"receipt": receipt.name, "bytes": receipt.read_bytes().decode(),
                "uploaded": chosen}


def test_a_bot_downloads_and_uploads_files(pipeline: Pipeline, tmp_path: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "filing", f"{__name__}:FilingBot")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cv = tmp_path / "cv-kari.pdf"
        cv.write_bytes(b"%PDF-1.4 cv")
        config = ProcessConfig(name="filing", owner="Tests", cost_centre="1", bot="filing",
                               manual_minutes_per_item=1, retry={"max_attempts": 1},
                               bot_config={"url": f"http://127.0.0.1:{server.server_address[1]}/"})
        pipeline.store.upsert_process(config.to_spec(), actor="test:e2e")
        pipeline.store.enqueue("filing", [NewItem("F-1", {"cv": str(cv)}),
                                          NewItem("F-2", {"cv": str(tmp_path / "gone.pdf")})],
                               actor="test:e2e")
        pipeline.run(slots=1)
    finally:
        server.shutdown()
        server.server_close()
    items = pipeline.items("filing")
    done = items["F-1"]
    assert done.output is not None
    assert done.output["bytes"] == "%PDF-1.4 kvittering"
    assert done.output["receipt"].endswith("-receipt.pdf")
    assert done.output["uploaded"] == "cv-kari.pdf"
    assert any(path.endswith("-receipt.pdf") for a in done.history
               for path in (a.evidence or {}).values())
    missing = items["F-2"]
    assert (missing.status, missing.error_code) == ("business_failed", "FILE_MISSING")
