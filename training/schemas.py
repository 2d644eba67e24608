"""What each experiment config may hold, checked before a run starts.

A typo in an override (`epoch=3`) or a value of the wrong kind (`epochs=abc`, `lr=-1`) is a usage error at once
(exit code 2), not a key silently ignored or a traceback after the crops are loaded. Keys the trainers index
directly are required; the rest may be left out, as in configs saved by older runs. The checked values replace the
given ones (`lr=1e-4`, which YAML reads as a string, becomes a number); nothing absent is filled in, so a saved config
still says only what the run was given.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from training.errors import ConfigError

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Device = str | int  # auto, cpu, cuda:0, or ultralytics' 0
Tracking = str | dict[str, Any] | None  # training.tracking checks the kind and keys


class CropTraining(BaseModel):
    """Keys `train ocr` and `train glyphs` share: crop sets, their split, rendered plates, the optimizer."""

    model_config = ConfigDict(extra="forbid")

    data: str
    extra_data: list[str] | None = None
    corrections: str | None = None
    val_fraction: float = Field(gt=0.0, lt=1.0)
    exclude_texts: list[str] | None = None
    exclude_label_files: list[str] | None = None
    synthetic: int | None = Field(None, ge=0)
    synthetic_workers: int | None = Field(None, ge=1)
    synthetic_styles: list[str] | None = None
    height: int = Field(ge=16)
    width: int = Field(ge=16)
    epochs: int = Field(ge=1)
    batch: int = Field(ge=1)
    lr: float = Field(gt=0.0)
    weight_decay: float = Field(ge=0.0)
    seed: int
    device: Device
    tracking: Tracking = None

    @field_validator("synthetic_styles")
    @classmethod
    def known_styles(cls, styles: list[str] | None) -> list[str] | None:
        from training.plate_styles import STYLES

        unknown = sorted(set(styles or []) - set(STYLES))
        if unknown:
            raise ValueError(f"unknown style(s) {', '.join(unknown)}; known: {', '.join(sorted(STYLES))}")
        return styles


class OcrTraining(CropTraining):
    """`train ocr` (training/configs/ocr.yaml)."""

    charset: str = Field(min_length=1)
    init: str | None = None
    jitter: float | None = Field(None, ge=0.0, lt=0.5)
    stretch: float | None = Field(None, ge=0.0)
    reorder: Share | None = None
    respell: Share | None = None
    reorder_skip: list[str] | None = None
    camera: Share | None = None
    oversample: dict[str, Annotated[int, Field(ge=1)]] | None = None
    workers: int = Field(ge=0)
    full_width: Share | None = None


class GlyphTraining(CropTraining):
    """`train glyphs` (training/configs/glyphs.yaml)."""

    recognizer: str
    copies: int = Field(ge=1)
    limit: int | None = Field(None, ge=0)


class DetectorTraining(BaseModel):
    """`train detector` (training/configs/detector.yaml): our keys; every other key is an ultralytics training
    argument, checked against ultralytics' own list and rules (check_detector_config)."""

    model_config = ConfigDict(extra="allow")

    model: str
    data: str
    extra_data: list[str] | None = None
    device: Device = "auto"
    tracking: Tracking = None


SCHEMAS: dict[str, type[BaseModel]] = {"ocr": OcrTraining, "glyphs": GlyphTraining, "detector": DetectorTraining}
Kind = Literal["ocr", "glyphs", "detector"]


SECRET_KEYS = ("url", "token", "password", "secret")  # values not repeated in messages: URLs hold passwords


def describe(error: ValidationError) -> str:
    """One line per problem, naming the key as written in the config (or the setting) and the value given."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "config"
        message = "not a key of this config (a typo?)" if item["type"] == "extra_forbidden" else item["msg"]
        quiet = item["type"] in {"missing", "extra_forbidden"} or any(word in key for word in SECRET_KEYS)
        lines.append(f"{key}: {message}" + ("" if quiet else f" (got {item.get('input')!r})"))
    return "; ".join(lines)


def check_config(kind: Kind, config: dict[str, Any]) -> dict[str, Any]:
    """The config with its values checked and converted; ConfigError naming every bad key otherwise."""
    try:
        checked = SCHEMAS[kind].model_validate(config)
    except ValidationError as exc:
        raise ConfigError(f"{kind} config: {describe(exc)}") from exc
    result = {**config, **checked.model_dump(exclude_unset=True)}
    if kind == "detector":
        check_detector_config(result)
    return result


def check_detector_config(config: dict[str, Any]) -> None:
    """The ultralytics arguments among the keys: known to ultralytics, and of the type and range it accepts."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg

    from training.detector import OWN_KEYS

    trainer_args = {k: v for k, v in config.items() if k not in OWN_KEYS}
    # Checked here rather than by get_cfg, which prints its whole command-line help for an unknown key.
    unknown = sorted(set(trainer_args) - set(DEFAULT_CFG_DICT))
    if unknown:
        raise ConfigError(f"detector config: {', '.join(unknown)}: not a key of this config or an ultralytics "
                          "training argument (a typo?)")
    try:
        get_cfg(DEFAULT_CFG_DICT, trainer_args)
    except (TypeError, ValueError, SyntaxError) as exc:
        raise ConfigError(f"detector config: {str(exc).strip().splitlines()[0]}") from exc
