"""Where the shipped engines live: engines/models/, installed with the package."""

from __future__ import annotations

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


def default_glyphs(device: str = "cpu") -> Path:
    """The glyph check's classifier (pipeline.glyphs): the PyTorch file on CUDA, as for the recognizer."""
    return SHIPPED_MODELS / ("glyphs.pt" if device.startswith("cuda") else "glyphs.onnx")
