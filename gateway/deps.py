"""FastAPI dependencies, as Annotated aliases."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import Unauthorized
from gateway.state import Services
from pipeline.reader import PlateReader


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def require_token(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> None:
    expected = services.settings.api_token or ""
    scheme, _, token = (authorization or "").partition(" ")
    if not authorization:
        raise Unauthorized("missing Authorization header: send 'Authorization: Bearer <PLATESTREAM_API_TOKEN>'")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthorized("invalid API token")


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

# Row ids are signed 64-bit integers in SQLite and Postgres; a larger id would overflow the driver (a 500),
# so out-of-range ids are rejected with 422 before they reach the database.
MAX_DB_ID = 2**63 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


async def get_reader_for(services: Services) -> PlateReader:
    """The gateway's own reader (/v1/recognize, embedded video jobs), loaded on first use: engines take seconds.
    It keeps crops, which video jobs store; the JSON answers simply do not use them."""
    async with services.reader_lock:
        if services.reader is None:
            from platestream.commands.common import build_reader

            services.reader = await asyncio.to_thread(build_reader, services.settings, True)
    return services.reader


async def get_reader(services: ServicesDep) -> PlateReader:
    return await get_reader_for(services)


ReaderDep = Annotated[PlateReader, Depends(get_reader)]
