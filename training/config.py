"""Experiment configs: a YAML file plus `key=value` overrides, saved with every run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from training.errors import ConfigError


def parse_override(item: str) -> tuple[str, Any]:
    """`epochs=3` -> ("epochs", 3); values are parsed as YAML so numbers and lists keep their type."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} is not key=value")
    return key.strip(), yaml.safe_load(raw) if raw else ""


def load_config(path: Path, overrides: list[str] | None = None) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"config {path} must be a mapping")
    for item in overrides or []:
        # Keys the file lacks are allowed here: training.schemas checks each kind's keys and values.
        key, value = parse_override(item)
        config[key] = value
    return config


def new_run_dir(root: Path, kind: str, name: str | None = None) -> Path:
    """Run folders sort by time: runs/detector/20261126-061500[-name]."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run = root / kind / (f"{stamp}-{name}" if name else stamp)
    run.mkdir(parents=True, exist_ok=False)
    return run


def save_config(config: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
