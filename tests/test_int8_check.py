"""`export --int8` keeps the INT8 file only if it scores as well as FP32 on held-out data (training.int8_check)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engines import ModelKind
from platestream.cli import main
from platestream.models import SHIPPED_MODELS
from training.errors import DatasetError
from training.export import export_recognizer
from training.int8_check import check_data, check_int8


def test_a_file_that_loses_accuracy_is_removed(ocr_dir: Path, tmp_path: Path) -> None:
    """EasyOCR's english_g2, never taught plates, stands in for a quantization that broke the recognizer."""
    fp32 = shutil.copy(SHIPPED_MODELS / "recognizer.onnx", tmp_path / "recognizer.onnx")
    broken, _ = export_recognizer([], tmp_path / "g2")
    check = check_int8(Path(fp32), broken, ocr_dir, tolerance=0.01, limit=24)
    assert check.metric == "exact" and check.samples == 24
    assert check.fp32 >= 0.8 and check.int8 < 0.5
    assert not check.holds and not broken.exists()
    assert Path(fp32).exists()


def test_a_detector_that_holds_is_kept(detect_dir: Path, tmp_path: Path) -> None:
    fp32 = Path(shutil.copy(SHIPPED_MODELS / "detector.onnx", tmp_path / "detector.onnx"))
    int8 = Path(shutil.copy(SHIPPED_MODELS / "detector.int8.onnx", tmp_path / "detector.int8.onnx"))
    check = check_int8(fp32, int8, detect_dir, tolerance=1.0, limit=6)
    assert check.metric == "map50" and check.samples == 6
    assert check.fp32 > 0.5 and check.int8 > 0.5
    assert check.holds and int8.exists()


def test_check_data_must_hold_held_out_files(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("file,text,region\n")
    with pytest.raises(DatasetError, match="no held-out data"):
        check_data(ModelKind.RECOGNIZER, tmp_path)


def test_cli_reports_the_check_and_keeps_the_file_only_when_it_holds(
        ocr_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["export", "recognizer", str(SHIPPED_MODELS / "recognizer.pt"), "--out", str(out), "--int8",
                 "--int8-check", str(ocr_dir), "--int8-limit", "16", "--int8-tolerance", "0.2"])
    printed = capsys.readouterr().out
    assert code == 0 and "INT8 check on 16 held-out files" in printed
    kept = (out / "recognizer.int8.onnx").exists()
    assert kept == ("; kept" in printed)
    assert (out / "recognizer.onnx").exists()


def test_cli_refuses_a_missing_check_set_before_exporting(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["export", "recognizer", str(SHIPPED_MODELS / "recognizer.pt"), "--out", str(out), "--int8",
                 "--int8-check", str(tmp_path / "nowhere")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (out / "recognizer.onnx").exists()
