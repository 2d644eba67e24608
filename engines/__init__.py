"""Model runtimes behind one small interface: `load()` then `infer(batch)`.

One module per runtime (ONNX Runtime, PyTorch, TensorRT). Each engine file carries its own metadata
(`EngineMetadata`): what the model is, its input size, its charset and where its weights came from.
"""

from engines.base import Engine, EngineMetadata, ModelKind
from engines.errors import EngineError, EngineFileError, RuntimeUnavailable
from engines.registry import available_runtimes, check_kind, create_engine, onnx_device

__all__ = [
    "Engine",
    "EngineError",
    "EngineFileError",
    "EngineMetadata",
    "ModelKind",
    "RuntimeUnavailable",
    "available_runtimes",
    "check_kind",
    "create_engine",
    "onnx_device",
]
