"""Start-up checks that the database and Redis answer, so that an unreachable one stops a process with one line
naming it (`platestream: error: cannot reach the database at postgresql+asyncpg://app:***@db:5432/x: ...`),
not a driver traceback, and within CONNECT_TIMEOUT_S rather than after the driver's own minute."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from platestream.errors import ServiceUnavailable

CONNECT_TIMEOUT_S = 15.0


def without_password(url: str) -> str:
    """The URL as logs may show it."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def reason(exc: BaseException) -> str:
    """The driver's own words: SQLAlchemy wraps them (with SQL and a documentation link) in `orig`."""
    cause = getattr(exc, "orig", None) or exc
    words = str(cause).strip()
    return words.splitlines()[0] if words else type(cause).__name__


async def reach(what: str, url: str, attempt: Awaitable[object]) -> None:
    try:
        await asyncio.wait_for(attempt, CONNECT_TIMEOUT_S)
    except TimeoutError as exc:
        raise ServiceUnavailable(f"cannot reach {what} at {without_password(url)}: no answer within "
                                 f"{CONNECT_TIMEOUT_S:.0f} s") from exc
    except (OSError, SQLAlchemyError, RedisError) as exc:
        raise ServiceUnavailable(f"cannot reach {what} at {without_password(url)}: {reason(exc)}") from exc


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def open_database(url: str) -> AsyncEngine:
    """An engine on `url`, once the database has answered (ServiceUnavailable otherwise, the engine disposed)."""
    from storage.db import make_engine

    engine = make_engine(url)
    try:
        await reach("the database", url, ping_database(engine))
    except ServiceUnavailable:
        await engine.dispose()
        raise
    return engine


async def open_redis(url: str) -> Redis:
    """A client on `url`, once Redis has answered a ping (ServiceUnavailable otherwise, the client closed)."""
    client = Redis.from_url(url)
    try:
        await reach("Redis", url, client.ping())
    except ServiceUnavailable:
        await client.aclose()
        raise
    return client


async def check_redis(url: str) -> None:
    """For processes that talk to Redis through another client (the RQ worker): one ping, then closed."""
    await (await open_redis(url)).aclose()
