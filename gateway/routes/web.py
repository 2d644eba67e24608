"""The browser UI: static files from `gateway/web`, served by the gateway itself (no build step, no CDN).

The UI needs no token to load: it is only HTML, JS and CSS. It asks the user for the API token and sends it on
every `/v1` call, so the API stays exactly as protected as before.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# The page loads nothing from elsewhere; saying so in a header makes the browser enforce it too.
CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; "
       "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}


def mount_ui(app: FastAPI) -> None:
    """`GET /` answers the UI's index.html; `/ui/...` serves its assets."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=HEADERS)

    app.mount("/ui", StaticFiles(directory=WEB_DIR, html=True), name="ui")
