"""Typed errors of the training package (the CLI maps them to exit code 2)."""


class TrainingError(Exception):
    """Base class for training failures a user can fix."""


class ConfigError(TrainingError):
    """A config file or override is invalid."""


class DatasetError(TrainingError):
    """A dataset folder or label file is missing or malformed."""
