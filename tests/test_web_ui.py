"""The browser UI served by the gateway: its files (TestClient), then the real service driven by headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.routes.web import WEB_DIR
from tests.cdp import Browser, chromium_binary
from tests.conftest import endtoend_rows
from tests.service_helpers import AUTH, TOKEN, Process, free_port, make_cars_video, settings_for

TYPES = {".html": "text/html", ".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}
SVG_NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'  # an XML name, never fetched


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path))) as test_client:
        yield test_client


def local_references(client: TestClient) -> set[str]:
    """Every asset the UI loads: src/href in the page, then `import ... from "./x.js"` in each module."""
    html = client.get("/").text
    found = set(re.findall(r'(?:src|href)="(/ui/[^"]+)"', html))
    pending = [p for p in found if p.endswith(".js")]
    while pending:
        module = pending.pop()
        for name in re.findall(r'from "\./([\w.-]+\.js)"', client.get(module).text):
            path = module.rsplit("/", 1)[0] + "/" + name
            if path not in found:
                found.add(path)
                pending.append(path)
    return found


def test_the_ui_is_served_from_the_package_only(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/ui/js/app.js">' in page.text
    assert client.get("/ui/").text == page.text  # the static mount serves the same page
    assets = local_references(client)
    assert {"/ui/style.css", "/ui/js/app.js", "/ui/js/api.js", "/ui/js/recognize.js", "/ui/icon.svg"} <= assets
    for path in assets:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert TYPES[Path(path).suffix] in answer.headers["content-type"], (path, answer.headers["content-type"])
    for file in WEB_DIR.rglob("*"):
        if file.is_file():
            text = file.read_text().replace(SVG_NAMESPACE, "")
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f"{file} links elsewhere"
    assert client.get("/ui/nope.js").status_code == 404
    assert client.get("/v1/cameras").status_code == 401  # the page is public, the API is not


@pytest.fixture
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("chromium is missing: run scripts/system-deps.sh (apt-get install chromium)")
    return binary


# Lets the test hand the page a feed message the service does not send yet (vehicle events are being added).
CAPTURE_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""


@pytest.mark.slow
def test_browser_token_live_cameras_search_recognize(tmp_path: Path, chromium: str, endtoend_dir: Path) -> None:
    video, _ = make_cars_video(tmp_path / "cars.mp4", count=2, seconds_each=2)
    port, data = free_port(), tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    env = {"PLATESTREAM_DATA_DIR": str(data), "PLATESTREAM_PORT": str(port), "PLATESTREAM_THREADS": "1",
           "PLATESTREAM_API_TOKEN": TOKEN, "PLATESTREAM_ALLOW_FILE_URLS": "false"}
    service = Process(["run", "--source", str(video)], tmp_path / "run.log", env)
    browser: Browser | None = None
    api = httpx.Client(base_url=base, headers=AUTH, timeout=30)
    shots = Path(os.environ.get("PLATESTREAM_UI_SCREENSHOTS", tmp_path))
    try:
        service.wait_for_line("Uvicorn running", timeout=90)
        browser = Browser(chromium, tmp_path / "profile")
        browser.send("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_SOCKETS)
        browser.navigate(base + "/")

        # Token: asked for once; a wrong one is refused with the server's reason, the right one kept.
        browser.wait_for("document.querySelector('#token-dialog').open")
        browser.type("#token-input", "not-the-token")
        browser.press("Enter")
        browser.wait_for("!document.querySelector('#token-error').hidden")
        assert "rejected this token (invalid API token)" in browser.text("#token-error")
        browser.type("#token-input", TOKEN)
        browser.press("Enter")
        browser.wait_for("!document.querySelector('#token-dialog').open")
        assert browser.evaluate("localStorage.getItem('platestream.token')") == TOKEN

        # Live: reads of the --source camera arrive over the WebSocket with their crop (a blob: URL).
        browser.wait_for("document.querySelector('#feed-status').textContent === 'live'")
        browser.wait_for("[...document.querySelectorAll('.feed-item.read img.crop')]"
                         ".some(i => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0)", timeout=120)
        first = browser.text("#live-list .feed-item.read")
        assert "source-1" in first and re.search(r"\d+\.\d%", first)
        event = {"plate": "EVT123", "confidence": 91.5, "camera_id": 1, "first_seen": "2026-01-01T10:00:00Z",
                 "last_seen": "2026-01-01T10:00:04Z", "frames": 7}
        browser.evaluate("window.__sockets.at(-1).dispatchEvent(new MessageEvent('message', "
                         f"{{data: {json.dumps(json.dumps({'type': 'event', 'event': event}))}}}))")
        newest = browser.wait_for("[...document.querySelectorAll('#live-list .feed-item.event')]"
                                  ".map(e => e.innerText).find(t => t.includes('EVT123'))")
        assert "EVT123" in newest and "VEHICLE" in newest.upper() and "7 frames" in newest
        browser.screenshot(shots / "ui-live.png")

        # Cameras, reached with the keyboard (arrow keys move between tabs).
        browser.evaluate("document.querySelector('#tab-live').focus()")
        browser.press("ArrowRight")
        browser.wait_for("document.querySelector('#tab-cameras').getAttribute('aria-selected') === 'true'")
        assert browser.evaluate("document.activeElement.id") == "tab-cameras"
        browser.wait_for("document.querySelector('#camera-table').innerText.includes('source-1')")
        browser.click("[data-key='toggle-1']")  # disable the source: it also frees the CPU for /v1/recognize
        browser.wait_for("document.querySelector('tr[data-camera-id=\"1\"]').innerText.includes('disabled')")
        assert api.get("/v1/cameras/1").json()["enabled"] is False

        add_camera(browser, "gate", "rtsp://127.0.0.1:9/none", "2")
        browser.wait_for("document.querySelector('#camera-table').innerText.includes('gate')")
        gate = next(c for c in api.get("/v1/cameras").json() if c["name"] == "gate")
        assert (gate["url"], gate["fps"], gate["enabled"]) == ("rtsp://127.0.0.1:9/none", 2.0, True)
        assert browser.evaluate("document.activeElement.id") == "cam-name"  # ready for the next camera

        refused = api.post("/v1/cameras", json={"name": "bad", "url": "file:///etc/passwd"}).json()["error"]
        add_camera(browser, "bad", "file:///etc/passwd", "5")
        browser.wait_for("!document.querySelector('#camera-error').hidden")
        assert "PLATESTREAM_ALLOW_FILE_URLS" in refused["message"]  # the API's own words, shown as they are
        assert browser.text("#camera-error") == refused["message"]
        assert browser.evaluate("document.querySelector('#camera-error').dataset.code") == refused["code"]
        assert [c["name"] for c in api.get("/v1/cameras").json()] == ["source-1", "gate"]
        browser.screenshot(shots / "ui-cameras.png")

        browser.click(f"[data-key='delete-{gate['id']}']")
        assert browser.text(f"[data-key='delete-{gate['id']}']") == "Confirm delete"
        browser.click(f"[data-key='delete-{gate['id']}']")
        browser.wait_for(f"!document.querySelector('tr[data-camera-id=\"{gate['id']}\"]')")
        assert [c["name"] for c in api.get("/v1/cameras").json()] == ["source-1"]

        # Search: every read so far, with crops; the summary counts them. The worker may still be storing
        # frames queued before the camera was disabled, so wait for the count to settle first.
        stored = settled_read_count(api)
        assert stored > 0
        browser.click("#tab-search")
        page = max(1, (stored + 1) // 2)  # two pages: the second comes from "Load more" (next_cursor)
        browser.evaluate(f"document.querySelector('#search-form').dataset.pageSize = '{page}'")
        browser.click("#search-form button[type=submit]")
        rows = "document.querySelectorAll('#search-table tbody tr').length"
        browser.wait_for(f"{rows} === {page}")
        assert re.fullmatch(rf"{page} reads?( so far)?\.", browser.text("#search-summary"))
        if stored > page:
            browser.click("#search-more")
            browser.wait_for(f"{rows} === {stored}")
        assert browser.text("#search-summary") == f"{stored} read{'' if stored == 1 else 's'}."
        assert not browser.visible("#search-more")  # the API said there is no next page
        plates = browser.evaluate("[...document.querySelectorAll('#search-table tbody th')].map(t => t.textContent)")
        assert plates == [r["plate"] for r in api.get("/v1/reads", params={"limit": 500}).json()["items"]]
        browser.screenshot(shots / "ui-search.png")

        # Recognize: upload a real photo; the result block reports the plates the API found, boxed on a canvas.
        browser.click("#tab-recognize")
        image = endtoend_dir / endtoend_rows(1)[0]["file"]
        browser.set_files("#r-file", image)
        browser.click("#r-submit")
        summary = browser.wait_for("!document.querySelector('#recognize-result').hidden && "
                                   "document.querySelector('#r-summary').textContent", timeout=180)
        expected = len(api.post("/v1/recognize", files={"file": (image.name, image.read_bytes())}).json()["results"])
        assert re.match(rf"{expected} plates? · 1280×720 · \d+ ms", summary), summary
        assert browser.evaluate("document.querySelectorAll('#r-plates .plate-card').length") == expected
        assert browser.evaluate("document.querySelector('#r-canvas').width") == 1280
        browser.screenshot(shots / "ui.png")

        # A phone: no panel may be wider than the screen (wide tables scroll inside their own box).
        browser.send("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
        for tab in ("live", "cameras", "search", "recognize"):
            browser.click(f"#tab-{tab}")
            assert browser.evaluate("document.documentElement.scrollWidth") <= 390, tab

        assert browser.errors == [], browser.errors  # no uncaught exception, no CSP violation
        local = (base, base.replace("http", "ws"), "blob:", "data:")
        assert browser.requests and all(u.startswith(local) for u in browser.requests), browser.requests
    finally:
        api.close()
        if browser is not None:
            browser.close()
        service.stop()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def settled_read_count(api: httpx.Client, quiet_s: float = 2.0, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        latest = len(api.get("/v1/reads", params={"limit": 500}).json()["items"])
        if latest == count:
            return count
        count = latest
        time.sleep(quiet_s)
    raise TimeoutError("reads kept arriving after the camera was disabled")


def add_camera(browser: Browser, name: str, url: str, fps: str) -> None:
    browser.type("#cam-name", name)
    browser.type("#cam-url", url)
    browser.type("#cam-fps", fps)
    browser.press("Enter")  # submits the form from the keyboard

