"""platestream: self-hosted license plate recognition for live camera streams."""

__version__ = "0.1.0"
