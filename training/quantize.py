"""INT8 ONNX files for the CPU, by onnxruntime quantization.

Detector: static quantization (QDQ, per-channel INT8 weights, UINT8 activations) calibrated on real photos. On
CPUs with AVX512-VNNI or AVX-VNNI, ONNX Runtime runs the quantized convolutions about twice as fast as FP32.
The detection head's box decoding (distribution focal loss, concatenations, sigmoid) stays FP32: it turns
features into pixel coordinates, and 8 bits there would move every box.

Recognizer: dynamic quantization (weights INT8, activations quantized on the fly), which keeps the LSTMs working.

Whether an INT8 file is used is decided by evaluating it (`platestream eval --detector ...int8.onnx`):
quantization can cost accuracy, so it never becomes the default engine without a measured comparison.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines.base import ModelKind
from engines.ort_engine import read_onnx_metadata, write_onnx_metadata
from training.compact import expand_onnx
from training.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
DEFAULT_CALIBRATION_IMAGES = 100


def quantize_int8(onnx_path: Path, calibration: Path | None = None, count: int = DEFAULT_CALIBRATION_IMAGES,
                  imgsz: int | None = None) -> Path:
    """Write `<stem>.int8.onnx` beside `onnx_path`; detectors need a folder of calibration images."""
    metadata = read_onnx_metadata(onnx_path)
    out = onnx_path.with_name(f"{onnx_path.stem}.int8.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        # The quantizers only find weights stored as FP32 initializers, so undo the FP16 storage first.
        fp32 = expand_onnx(onnx_path, Path(tmp) / "fp32.onnx")
        if metadata.kind == ModelKind.DETECTOR:
            if calibration is None:
                raise DatasetError("INT8 detector quantization needs calibration images (--calibration DIR)")
            size = imgsz or metadata.input_height
            quantize_detector(fp32, out, calibration_batches(calibration, count, size, metadata.stride))
        else:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    write_onnx_metadata(out, metadata.model_copy(update={"precision": "int8"}))
    return out


def calibration_batches(folder: Path, count: int, size: int, stride: int) -> list[np.ndarray]:
    """`count` images spread over the folder (sorted names, even steps), letterboxed as the pipeline does."""
    from pipeline.decode import decode_image
    from pipeline.detect import to_detector_batch
    from pipeline.errors import ImageError

    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not paths:
        raise DatasetError(f"no calibration images in {folder}")
    step = max(1, len(paths) // count)
    batches = []
    for path in paths[::step][:count]:
        try:
            frame = decode_image(path.read_bytes(), path.name)
        except ImageError:
            continue  # a bad file in a user's folder does not stop calibration
        batches.append(to_detector_batch([frame], size, stride, square=False)[0])
    return batches


def head_nodes(nodes: Sequence[Any]) -> list[str]:
    """Nodes of the last ultralytics module (Detect) that decode boxes: they stay FP32."""
    indices = [int(m.group(1)) for n in nodes if (m := re.match(r"/model\.(\d+)/", n.name))]
    if not indices:
        return []
    head = f"/model.{max(indices)}/"
    decoding = {"Concat", "Split", "Softmax", "Sigmoid", "Sub", "Add", "Div", "Mul", "Reshape", "Transpose", "Slice"}
    return [n.name for n in nodes if n.name.startswith(head) and ("dfl" in n.name or n.op_type in decoding)]


def quantize_detector(fp32: Path, out: Path, batches: list[np.ndarray]) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    graph = onnx.load(str(fp32)).graph
    input_name = graph.input[0].name

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.batches: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    # MinMax: calibration frames differ in shape (photos of every aspect), which histogram methods refuse.
    quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=head_nodes(graph.node))
