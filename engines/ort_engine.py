"""ONNX Runtime: the default CPU runtime (CUDA execution provider when onnxruntime-gpu is installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.base import METADATA_KEY, EngineMetadata
from engines.errors import EngineFileError, RuntimeUnavailable
from engines.paddle import describes_paddle_recognizer, paddle_metadata


def read_onnx_metadata(path: Path) -> EngineMetadata:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for unreadable files
        raise EngineFileError(f"{path} is not a readable ONNX file: {exc}") from exc
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props and describes_paddle_recognizer(path):
        return paddle_metadata(path, output_classes(model))
    if METADATA_KEY not in props:
        raise EngineFileError(f"{path} has no '{METADATA_KEY}' metadata; export it with `platestream export`")
    return EngineMetadata.from_json(props[METADATA_KEY])


def output_classes(model: Any) -> int | None:
    """The size of the last axis of the model's first output, where the graph states it."""
    dims = model.graph.output[0].type.tensor_type.shape.dim
    return int(dims[-1].dim_value) if dims and dims[-1].HasField("dim_value") else None


def write_onnx_metadata(path: Path, metadata: EngineMetadata) -> None:
    import onnx

    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata.to_json()
    onnx.save(model, str(path))


class OnnxRuntimeEngine:
    runtime = "onnxruntime"

    def __init__(self, path: Path, device: str = "cpu", threads: int = 0) -> None:
        self.path = path
        self.device = device
        self.threads = threads  # 0 lets ONNX Runtime use every core
        self.metadata = read_onnx_metadata(path)
        self._session: Any = None
        self._input_name = ""

    def load(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if self.device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeUnavailable("onnxruntime has no CUDA provider here; install onnxruntime-gpu")
            providers.insert(0, "CUDAExecutionProvider")
        session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        self._input_name = session.get_inputs()[0].name
        self._session = session

    def infer(self, batch: np.ndarray) -> np.ndarray:
        if self._session is None:
            self.load()
        outputs = self._session.run(None, {self._input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.asarray(outputs[0])
