"""The GPU pack (a few real plates-detect images, no wheel download), the polars stand-in and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from training.gpu.pack import PackError, candidates, copy_bench_frames, main, pack_dataset
from training.gpu.plot import plot_results
from training.gpu.shim import polars as polars_shim

RESULTS_CSV = (
    "epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n"
    "1,5.5,2.1,0.10,0.001\n"
    "2,11.0,1.9,0.25,0.002\n"
)


def test_pack_layout_downscales_and_keeps_labels(detect_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack"
    assert main(["--out", str(out), "--source", str(detect_dir), "--limit", "3", "--imgsz", "256",
                 "--no-wheels"]) == 0
    for split in ("train", "val"):
        images = sorted((out / "plates-detect" / "images" / split).iterdir())
        assert len(images) == 3
        for image in images:
            with Image.open(image) as im:
                assert max(im.size) == 256 and im.format == "JPEG"  # the sources' longest side is 512
            label = out / "plates-detect" / "labels" / split / f"{image.stem}.txt"
            assert label.read_bytes() == (detect_dir / "labels" / split / label.name).read_bytes()
    manifest = json.loads((out / "pack.json").read_text())
    assert manifest["dataset"]["images"] == 6 and manifest["dataset"]["side"] == 256
    assert manifest["wheels"] == [] and not (out / "wheels").exists()
    report = capsys.readouterr().out
    assert "plates-detect:" in report and "MiB" in report and "6 images" in report


def test_bench_frames_are_720p_frames_copied_unchanged(endtoend_dir: Path, tmp_path: Path) -> None:
    assert copy_bench_frames(endtoend_dir, tmp_path / "frames", 3) == 3
    copied = sorted((tmp_path / "frames").iterdir())
    assert len(copied) == 3
    for path in copied:
        assert path.read_bytes() == (endtoend_dir / path.name).read_bytes()
        with Image.open(path) as image:
            assert image.size == (1280, 720)
    assert copy_bench_frames(endtoend_dir, tmp_path / "frames", 0) == 0 and not (tmp_path / "frames").exists()


def test_pack_lowers_quality_to_fit(detect_dir: Path, tmp_path: Path) -> None:
    full = pack_dataset(detect_dir, tmp_path / "full", imgsz=256, max_mib=100, limit=2)
    assert (full.side, full.quality) == (256, 85)
    budget = full.bytes * 0.8 / 2**20
    small = pack_dataset(detect_dir, tmp_path / "small", imgsz=256, max_mib=budget, limit=2)
    assert small.bytes <= budget * 2**20 and (small.quality < 85 or small.side < 256)
    with pytest.raises(PackError, match="do not fit"):
        pack_dataset(detect_dir, tmp_path / "tiny", imgsz=256, max_mib=0.001, limit=2)


def test_candidates_prefer_resolution_over_quality() -> None:
    pairs = candidates(imgsz=640, largest=512, quality=85, min_quality=75)
    assert pairs[:3] == [(512, 85), (512, 80), (512, 75)] and pairs[3] == (480, 85)
    assert pairs[-1] == (320, 75)  # never below half of imgsz


def test_polars_stand_in_reads_results_csv() -> None:
    frame = polars_shim.read_csv(RESULTS_CSV.encode(), infer_schema_length=None)
    columns = frame.to_dict(as_series=False)
    assert columns["epoch"] == [1, 2] and columns["metrics/mAP50(B)"] == [0.10, 0.25]
    with pytest.raises(AttributeError, match="stand-in"):
        _ = polars_shim.scan_parquet  # anything but read_csv fails loudly


def test_plot_results(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(RESULTS_CSV)
    png = plot_results(tmp_path / "results.csv", tmp_path / "out" / "results.png")
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 300


def test_ocr_pack_fits_crops_to_the_input_height_and_keeps_their_names(ocr_dir: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from training.gpu import pack_ocr

    extra = tmp_path / "pseudo"
    extra.mkdir()
    Image.new("RGB", (90, 30), "white").save(extra / "a__1_0.png")
    (extra / "labels.csv").write_text("file,text,region\na__1_0.png,AB12CDE,pseudo\n")
    out = tmp_path / "pack"
    assert pack_ocr.main(["--out", str(out), "--source", str(ocr_dir), "--extra", str(extra), "--limit", "5",
                          "--no-wheels"]) in (0, 1)  # 1: the tree here may be too big to travel with it
    rows = (out / "plates-ocr" / "labels.csv").read_text().splitlines()
    assert rows == (ocr_dir / "labels.csv").read_text().splitlines()[:6]  # header + the first 5, unchanged
    for row in rows[1:]:
        name = row.split(",")[0]
        with Image.open(out / "plates-ocr" / name) as packed, Image.open(ocr_dir / name) as original:
            assert packed.height == min(64, original.height)
            assert abs(packed.width / packed.height - original.width / original.height) < 0.1
    with Image.open(out / "pseudo" / "a__1_0.png") as small:
        assert small.format == "PNG" and small.size == (90, 30)  # already under 64 px: kept as it was
    manifest = json.loads((out / "pack.json").read_text())
    assert manifest["folders"]["pseudo"]["crops"] == 1 and manifest["height"] == 64
    assert "pseudo: 1 crops" in capsys.readouterr().out
    assert pack_ocr.main(["--out", str(out), "--source", str(tmp_path / "nowhere"), "--no-wheels"]) == 2
