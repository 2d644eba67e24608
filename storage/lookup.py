"""Row helpers: fetch one by primary key (or a NotFound naming what was missing, mapped to HTTP 404), and
apply a partial update."""

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


def assign_given(row: object, **values: Any) -> None:
    """Partial update: set each given attribute; None leaves it as it is."""
    for name, value in values.items():
        if value is not None:
            setattr(row, name, value)
