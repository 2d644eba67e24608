"""Where the shipped engines live: engines/models/, installed with the package."""

from __future__ import annotations

from pathlib import Path

import engines

SHIPPED_MODELS = Path(engines.__file__).parent / "models"


def default_detector() -> Path:
    return SHIPPED_MODELS / "detector.onnx"


def default_recognizer() -> Path:
    return SHIPPED_MODELS / "recognizer.onnx"
