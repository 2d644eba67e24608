"""TensorRT runtime for NVIDIA GPUs: an engine compiled from the exported ONNX file.

The `.engine` file is a small header (4-byte little-endian length + EngineMetadata JSON) followed by the
serialized TensorRT plan, so the metadata travels inside the file as it does for ONNX. Needs the `tensorrt`
package and a CUDA device; tests skip where `tensorrt` does not import.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from engines.base import EngineMetadata
from engines.errors import EngineFileError, RuntimeUnavailable
from engines.ort_engine import read_onnx_metadata


def import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise RuntimeUnavailable("the TensorRT runtime needs the `tensorrt` package and an NVIDIA GPU") from exc
    return tensorrt


def write_engine_file(path: Path, metadata: EngineMetadata, plan: bytes) -> None:
    header = metadata.to_json().encode()
    path.write_bytes(struct.pack("<I", len(header)) + header + plan)


def read_engine_file(path: Path) -> tuple[EngineMetadata, bytes]:
    try:
        blob = path.read_bytes()
        (length,) = struct.unpack("<I", blob[:4])
        metadata = EngineMetadata.from_json(blob[4 : 4 + length].decode())
    except Exception as exc:
        raise EngineFileError(f"{path} is not a platestream TensorRT engine: {exc}") from exc
    return metadata, blob[4 + length :]


def compile_onnx(onnx_path: Path, engine_path: Path, *, fp16: bool = True, max_batch: int = 32,
                 int8_calibrator: Any = None) -> Path:
    """Build a TensorRT plan from an exported ONNX file (FP16, or INT8 with a calibrator)."""
    trt = import_tensorrt()
    metadata = read_onnx_metadata(onnx_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineFileError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if int8_calibrator is not None:
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = int8_calibrator
    profile = builder.create_optimization_profile()
    name = network.get_input(0).name
    h, w = metadata.input_height, metadata.input_width
    profile.set_shape(name, (1, 3 if metadata.kind == "detector" else 1, h, w),
                      (max(1, max_batch // 2), 3 if metadata.kind == "detector" else 1, h, w),
                      (max_batch, 3 if metadata.kind == "detector" else 1, h, w))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineFileError(f"TensorRT failed to build an engine from {onnx_path}")
    precision = "int8" if int8_calibrator is not None else ("fp16" if fp16 else "fp32")
    # The plan is built for one input shape, so the pipeline must feed exactly that (square letterbox, full width).
    fixed = metadata.model_copy(update={"precision": precision, "dynamic_size": False})
    write_engine_file(engine_path, fixed, bytes(plan))
    return engine_path


class TensorRTEngine:
    runtime = "tensorrt"

    def __init__(self, path: Path, device: str = "cuda", threads: int = 0) -> None:
        self.path = path
        self.device = device if device.startswith("cuda") else "cuda"
        self.metadata, self._plan = read_engine_file(path)
        self._context: Any = None

    def load(self) -> None:
        trt = import_tensorrt()
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = runtime.deserialize_cuda_engine(self._plan)
        if self._engine is None:
            raise EngineFileError(f"{self.path} was built for another TensorRT version or GPU")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._input = next(n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self._output = next(n for n in names if n != self._input)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        import torch  # torch owns the CUDA buffers and stream; TensorRT only reads and writes them

        if self._context is None:
            self.load()
        inputs = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        self._context.set_input_shape(self._input, tuple(inputs.shape))
        output = torch.empty(tuple(self._context.get_tensor_shape(self._output)), device=self.device)
        self._context.set_tensor_address(self._input, inputs.data_ptr())
        self._context.set_tensor_address(self._output, output.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self._context.execute_async_v3(stream.cuda_stream):
            raise EngineFileError("TensorRT execution failed")
        stream.synchronize()
        return output.cpu().numpy()
