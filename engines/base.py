"""The engine interface and the metadata every exported engine file carries."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field

METADATA_KEY = "platestream"  # key under which metadata is stored in ONNX metadata_props / checkpoints


class ModelKind(StrEnum):
    DETECTOR = "detector"
    RECOGNIZER = "recognizer"
    GLYPHS = "glyphs"


class EngineMetadata(BaseModel):
    """Everything a pipeline stage needs to feed a model and read its output.

    Detector input is RGB in [0, 1], NCHW, letterboxed; output is (N, 4 + classes, anchors) as ultralytics exports it.
    Recognizer input is grayscale normalised to [-1, 1], N x 1 x H x W (N x 3 x H x W for `color` bgr or rgb); output
    is (N, T, 1 + len(charset)) CTC logits (or probabilities, see `output`) with class 0 the blank. Glyph classifier
    input is one character per image, scaled as the recognizer's, N x 1 x H x W; output is (N, len(charset)) logits.
    """

    kind: ModelKind
    name: str
    version: str
    input_height: int = Field(gt=0)
    input_width: int = Field(gt=0)
    dynamic_size: bool = False  # detector: any multiple of `stride` may be fed; recognizer: any width up to input_width
    stride: int = 32
    charset: str = ""  # recognizer classes after the blank, in order; glyph classifier classes
    color: Literal["gray", "bgr", "rgb"] = "gray"  # recognizer input channels
    output: Literal["logits", "probabilities"] = "logits"  # recognizer output: PaddleOCR's ends in a softmax
    precision: str = "fp32"
    source_weights: str = ""  # file the engine was exported from
    source_sha256: str = ""
    training: dict[str, object] = Field(default_factory=dict)  # dataset, run, metrics

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> EngineMetadata:
        return cls.model_validate_json(text)


@runtime_checkable
class Engine(Protocol):
    """A loaded model. `infer` takes one float32 batch and returns the model's single output."""

    metadata: EngineMetadata
    runtime: str

    def load(self) -> None: ...

    def infer(self, batch: np.ndarray) -> np.ndarray: ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
