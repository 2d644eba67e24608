"""Typed storage errors. The HTTP layer maps NotFound -> 404, Conflict -> 409, InvalidQuery -> 422."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the storage package raises on purpose."""


class NotFound(StorageError):
    """The requested row (or crop file) does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(StorageError):
    """The change would break a uniqueness rule, e.g. a second camera with the same name."""


class InvalidQuery(StorageError):
    """A filter, cursor, limit or value the caller sent cannot be used."""
