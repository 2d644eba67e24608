"""Pseudo-labels: sure reads of unlabelled photos become a crop set that `train ocr` takes as extra data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from pipeline.crop import whole_image_crop
from pipeline.reader import PlateReader
from tests.conftest import load_frame
from tests.test_cli import platestream
from training.datasets import read_ocr_set
from training.errors import DatasetError
from training.ocr import excluded_texts
from training.pseudo_label import PseudoConfig, label_file, write_pseudo_set

# plates-detect training photos of clear British plates that every framing reads the same
CLEAR = {"openlpr_10": "CV58VP", "openlpr_1018": "AD56LNJ", "openlpr_102": "SME950C"}
LABELLED_VAL = Path(__file__).resolve().parents[1] / "training" / "labels" / "plates-detect-val.csv"


def yolo_copy(detect_dir: Path, dest: Path, stems: list[str]) -> Path:
    for sub, suffix in (("images", ".jpg"), ("labels", ".txt")):
        (dest / sub / "train").mkdir(parents=True)
        for stem in stems:
            shutil.copy(detect_dir / sub / "train" / f"{stem}{suffix}", dest / sub / "train")
    return dest


def test_label_files_are_found_where_ultralytics_looks(tmp_path: Path) -> None:
    (tmp_path / "set" / "images" / "train").mkdir(parents=True)
    image = tmp_path / "set" / "images" / "train" / "a.jpg"
    assert label_file(image) is None  # no labels/ folder: the detector finds the plates
    (tmp_path / "set" / "labels").mkdir()
    assert label_file(image) == tmp_path / "set" / "labels" / "train" / "a.txt"
    assert label_file(tmp_path / "flat" / "a.jpg") is None


def test_sure_reads_become_a_crop_set(service_reader: PlateReader, detect_dir: Path, tmp_path: Path) -> None:
    source = yolo_copy(detect_dir, tmp_path / "src", [*CLEAR, "openlpr_1103"])
    report = write_pseudo_set(service_reader, source, tmp_path / "out", PseudoConfig())
    assert (report.images, report.plates) == (4, 4)
    samples = read_ocr_set(tmp_path / "out")
    # the fourth is two-line: left out; names keep the photo's path under the source folder
    assert {s.path.name: s.text for s in samples} == {f"images__train__{k}_0.png": v for k, v in CLEAR.items()}
    assert report.kept == 3 and {s.region for s in samples} == {"pseudo"}
    for sample in samples:  # each saved crop still reads as its label: it is the region the product reads
        read = service_reader.read_crops([whole_image_crop(load_frame(sample.path).image)])[0]
        assert read is not None and read.plate == sample.text

    strict = write_pseudo_set(service_reader, source, tmp_path / "none", PseudoConfig(min_confidence=100.1))
    assert strict.kept == 0 and read_ocr_set(tmp_path / "none") == []


def test_without_labels_the_detector_finds_the_plates(
    service_reader: PlateReader, detect_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "photos").mkdir()
    shutil.copy(detect_dir / "images" / "train" / "openlpr_1018.jpg", tmp_path / "photos")
    report = write_pseudo_set(service_reader, tmp_path / "photos", tmp_path / "out", PseudoConfig())
    assert report.plates >= 1 and [s.text for s in read_ocr_set(tmp_path / "out")] == ["AD56LNJ"]
    with pytest.raises(DatasetError, match="no images"):
        write_pseudo_set(service_reader, tmp_path / "out-empty", tmp_path / "x", PseudoConfig())


def test_cli_writes_the_set_and_refuses_an_empty_folder(detect_dir: Path, tmp_path: Path) -> None:
    source = yolo_copy(detect_dir, tmp_path / "src", ["openlpr_10"])
    done = platestream("pseudo-label", source, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "1 photos, 1 plates, 1 kept" in done.stdout
    assert [r["text"] for r in csv.DictReader((tmp_path / "out" / "labels.csv").open())] == ["CV58VP"]
    (source / "images" / "train" / "broken.jpg").write_bytes(b"not a jpeg")  # skipped, and said so
    again = platestream("pseudo-label", source, tmp_path / "out3")
    assert again.returncode == 0 and "1 photos, 1 plates, 1 kept" in again.stdout
    assert "1 unreadable file(s) skipped" in again.stdout and "broken.jpg" in again.stderr
    (tmp_path / "empty").mkdir()
    refused = platestream("pseudo-label", tmp_path / "empty", tmp_path / "out2")
    assert refused.returncode == 2 and "no images under" in refused.stderr


def test_plates_scored_elsewhere_are_excluded_from_training() -> None:
    texts = excluded_texts({"exclude_texts": ["abc-123"], "exclude_label_files": [str(LABELLED_VAL)]})
    assert {"ABC123", "B310VLV", "KA51MF6413"} <= texts and "" not in texts


def test_eval_reads_labels_kept_apart_from_the_photos(detect_dir: Path, tmp_path: Path) -> None:
    done = platestream("eval", detect_dir, "--labels", LABELLED_VAL, "--limit", "4", "--details", tmp_path / "d.csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    assert [r["file"] for r in rows] == ["openlpr_1030.jpg", "openlpr_1036.jpg", "openlpr_1044.jpg", "openlpr_1065.jpg"]
    assert rows[1]["label"] == "HD028"
    missing = platestream("eval", detect_dir, "--labels", tmp_path / "nope.csv")
    assert missing.returncode == 2 and "nope.csv not found" in missing.stderr
