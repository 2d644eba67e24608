"""PyTorch runtime (CPU, or CUDA in FP16): loads platestream checkpoints written by `platestream export`.

A detector checkpoint is an ultralytics checkpoint (`model` holds the network); a recognizer checkpoint holds a
`state_dict` for `RecognizerNet`, a glyph classifier's one for `GlyphNet`. Both carry the same `EngineMetadata`
JSON as the ONNX files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.base import METADATA_KEY, EngineMetadata, ModelKind
from engines.errors import EngineFileError, RuntimeUnavailable


def read_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        # Detector checkpoints pickle ultralytics modules, so weights_only loading cannot be used;
        # only load engine files you trust, as with any pickle.
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise EngineFileError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
    if not isinstance(checkpoint, dict) or METADATA_KEY not in checkpoint:
        raise EngineFileError(f"{path} has no '{METADATA_KEY}' metadata; export it with `platestream export`")
    return checkpoint


class TorchEngine:
    runtime = "torch"

    def __init__(self, path: Path, device: str = "cpu", threads: int = 0) -> None:
        self.path = path
        self.device = device
        self.threads = threads
        self._checkpoint = read_checkpoint(path)
        self.metadata = EngineMetadata.from_json(self._checkpoint[METADATA_KEY])
        self._module: Any = None

    def _build(self) -> Any:
        if self.metadata.kind == ModelKind.DETECTOR:
            return self._checkpoint["model"].float().fuse()
        from engines.networks import GlyphNet, RecognizerNet

        meta = self.metadata
        net = (GlyphNet(len(meta.charset), meta.input_height, meta.input_width) if meta.kind == ModelKind.GLYPHS
               else RecognizerNet(num_class=len(meta.charset) + 1))
        net.load_state_dict(self._checkpoint["state_dict"])
        return net

    def load(self) -> None:
        import torch

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeUnavailable(f"device {self.device} requested but torch sees no CUDA device")
        if self.threads:
            torch.set_num_threads(self.threads)
        module = self._build().eval().to(self.device)
        self._half = self.device.startswith("cuda")  # FP16 on the GPU: tensor cores, half the memory traffic
        self._module = module.half() if self._half else module

    def infer(self, batch: np.ndarray) -> np.ndarray:
        import torch

        if self._module is None:
            self.load()
        tensor = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            output = self._module(tensor.half() if self._half else tensor)
        if isinstance(output, (tuple, list)):  # ultralytics detection heads return (predictions, features)
            output = output[0]
        return output.float().cpu().numpy()
