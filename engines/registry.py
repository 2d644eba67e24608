"""Runtime plugins: a name per runtime, chosen by setting or by the engine file's suffix."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engines.base import Engine, ModelKind
from engines.errors import EngineFileError, RuntimeUnavailable

# runtime name -> (module, class, python package it needs)
RUNTIMES: dict[str, tuple[str, str, str]] = {
    "onnxruntime": ("engines.ort_engine", "OnnxRuntimeEngine", "onnxruntime"),
    "torch": ("engines.torch_engine", "TorchEngine", "torch"),
    "tensorrt": ("engines.trt_engine", "TensorRTEngine", "tensorrt"),
}
SUFFIX_RUNTIME = {".onnx": "onnxruntime", ".pt": "torch", ".engine": "tensorrt"}


def available_runtimes() -> list[str]:
    return [name for name, (_, _, package) in RUNTIMES.items() if importlib.util.find_spec(package) is not None]


def runtime_for(path: Path) -> str:
    try:
        return SUFFIX_RUNTIME[path.suffix]
    except KeyError:
        known = ", ".join(SUFFIX_RUNTIME)
        raise EngineFileError(f"{path}: unknown engine file type (expected one of {known})") from None


def create_engine(path: Path, device: str = "cpu", threads: int = 0, *, load: bool = True) -> Engine:
    """Open an engine file with the runtime its suffix names, and load it unless asked not to."""
    if not path.is_file():
        raise EngineFileError(f"engine file {path} does not exist")
    name = runtime_for(path)
    module_name, class_name, package = RUNTIMES[name]
    if importlib.util.find_spec(package) is None:
        raise RuntimeUnavailable(f"{path} needs the {name} runtime, but `{package}` is not installed")
    module = importlib.import_module(module_name)
    engine: Engine = getattr(module, class_name)(path, device=device, threads=threads)
    if load:
        engine.load()
    return engine


def onnx_device(device: str) -> str:
    """`device` for an ONNX file, where ONNX Runtime can run it there (a CUDA build is installed), else the CPU:
    ONNX-only engines (the second reader) then still run beside PyTorch ones on a GPU."""
    if device.startswith("cuda") and importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return device
    return "cpu"


def check_kind(engine: Engine, kind: ModelKind) -> Engine:
    """`engine`, if it is a model of this kind: a recognizer file given as the detector fails here, clearly."""
    if engine.metadata.kind != kind:
        raise EngineFileError(f"expected a {kind} engine, got a {engine.metadata.kind} ({engine.metadata.name})")
    return engine
