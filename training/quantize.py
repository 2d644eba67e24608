"""INT8 ONNX by onnxruntime dynamic quantization (weights INT8, activations quantized on the fly).

Whether the INT8 file is kept is decided by evaluating it (`platestream eval --recognizer ...int8.onnx`):
quantization can cost accuracy, so it is never the default engine without a measured comparison.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engines.ort_engine import read_onnx_metadata, write_onnx_metadata
from training.compact import expand_onnx


def quantize_int8(onnx_path: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = onnx_path.with_name(f"{onnx_path.stem}.int8.onnx")
    metadata = read_onnx_metadata(onnx_path)
    with tempfile.TemporaryDirectory() as tmp:
        # The quantizer only finds weights stored as FP32 initializers, so undo the FP16 storage first.
        fp32 = expand_onnx(onnx_path, Path(tmp) / "fp32.onnx")
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    write_onnx_metadata(out, metadata.model_copy(update={"precision": "int8"}))
    return out
