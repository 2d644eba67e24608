"""Settings pick engines and batching that suit the device unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from platestream.models import SHIPPED_MODELS
from platestream.settings import CoreSettings, ServiceSettings


def test_default_engines_follow_the_device() -> None:
    cpu = CoreSettings(_env_file=None)  # type: ignore[call-arg]
    int8 = SHIPPED_MODELS / "detector.int8.onnx"
    assert cpu.detector == (int8 if int8.is_file() else SHIPPED_MODELS / "detector.onnx")
    assert cpu.recognizer == SHIPPED_MODELS / "recognizer.onnx"
    cuda = CoreSettings(device="cuda:0", _env_file=None)  # type: ignore[call-arg]
    assert (cuda.detector.name, cuda.recognizer.name) == ("detector.pt", "recognizer.pt")  # PyTorch FP16 path
    chosen = CoreSettings(device="cuda", detector=Path("x.onnx"), _env_file=None)  # type: ignore[call-arg]
    assert chosen.detector == Path("x.onnx") and chosen.recognizer.name == "recognizer.pt"


def test_worker_batch_is_small_on_the_cpu_and_large_on_a_gpu() -> None:
    assert ServiceSettings(_env_file=None).resolved_worker_batch() == 2  # type: ignore[call-arg]
    assert ServiceSettings(device="cuda", _env_file=None).resolved_worker_batch() == 16  # type: ignore[call-arg]
    assert ServiceSettings(worker_batch=5, _env_file=None).resolved_worker_batch() == 5  # type: ignore[call-arg]


def test_extra_detector_sizes_come_comma_separated_and_must_fit_the_stride(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATESTREAM_DETECTOR_EXTRA_SIZES", "320, 960")
    assert CoreSettings().reader_config().detector.extra_sizes == (320, 960)
    monkeypatch.setenv("PLATESTREAM_DETECTOR_EXTRA_SIZES", "")
    assert CoreSettings().reader_config().detector.extra_sizes == ()
    with pytest.raises(ValidationError, match="multiple of 32"):
        CoreSettings(detector_extra_sizes="300")


def test_read_views_come_comma_separated_and_must_be_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATESTREAM_READ_VIEWS", "plain, wide,contrast")
    assert CoreSettings().reader_config().recognizer.views == ("plain", "wide", "contrast")
    with pytest.raises(ValidationError, match="plain"):
        CoreSettings(read_views="plain,sharpen")
    with pytest.raises(ValidationError, match="at least 1"):
        CoreSettings(read_views="")
