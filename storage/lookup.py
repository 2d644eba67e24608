"""Fetching one row by primary key, or a NotFound that names what was missing (mapped to HTTP 404)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound

Row = TypeVar("Row")


async def get_or_raise(session: AsyncSession, model: type[Row], key: Any, kind: str) -> Row:
    row = await session.get(model, key)
    if row is None:
        raise NotFound(kind, key)
    return row
