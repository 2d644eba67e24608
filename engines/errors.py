"""Typed errors of the engines package."""


class EngineError(Exception):
    """Base class for model runtime failures."""


class EngineFileError(EngineError):
    """An engine file is missing, unreadable, or lacks platestream metadata."""


class RuntimeUnavailable(EngineError):
    """The requested runtime (or device) is not installed on this machine."""
