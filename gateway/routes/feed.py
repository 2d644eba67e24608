"""`WS /v1/feed?camera_id=`: every new read (`{"type": "read", "read": {...}}`) and every vehicle pass
(`{"type": "event", "event": {...}}`) as JSON, as soon as a worker has stored it.

Browsers cannot set headers on a WebSocket, so the token may also come as `?token=`.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from gateway.errors import error_body
from gateway.state import Services

router = APIRouter(tags=["feed"])


def token_ok(websocket: WebSocket, expected: str) -> bool:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else websocket.query_params.get("token", "")
    return bool(token) and secrets.compare_digest(token.encode(), expected.encode())


@router.websocket("/v1/feed")
async def live_feed(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    if not token_ok(websocket, services.settings.api_token or ""):
        await websocket.send_denial_response(
            JSONResponse(error_body("unauthorized", "missing or invalid API token"), status_code=401)
        )
        return
    camera = websocket.query_params.get("camera_id")
    if camera is not None and not camera.isdigit():
        await websocket.send_denial_response(
            JSONResponse(error_body("invalid", "camera_id must be a positive integer"), status_code=422)
        )
        return
    await websocket.accept()
    events = services.feed.subscribe()
    try:
        async for event in events:
            read = event.get("read") or event.get("event") or {}
            if camera is None or str(read.get("camera_id")) == camera:
                await websocket.send_json(event)
    except WebSocketDisconnect:
        pass
    finally:
        await events.aclose()  # type: ignore[attr-defined]
