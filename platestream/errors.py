"""Errors of the service processes themselves, which the CLI prints as one line: ServiceUnavailable exits with
code 1 (the same command may work later), ConfigurationError with code 2 (it will not until the setting changes)."""

from __future__ import annotations


class ServiceUnavailable(Exception):
    """A service this process needs at start-up (the database, Redis) cannot be reached or opened."""


class ConfigurationError(Exception):
    """A setting names something the process cannot use, such as a data folder it cannot create."""
