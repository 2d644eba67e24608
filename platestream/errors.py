"""Errors of the service processes themselves (the CLI maps them to exit code 1, with one line)."""

from __future__ import annotations


class ServiceUnavailable(Exception):
    """A service this process needs at start-up (the database, Redis) cannot be reached or opened."""
