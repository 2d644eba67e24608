"""CCPD names, YOLO export and crop export, on a tiny CCPD-style folder made from real endtoend-us photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.records import Box
from tests.conftest import dataset, endtoend_rows
from training.ccpd import (
    CcpdLabel,
    decode_plate,
    export_ccpd_crops,
    export_ccpd_to_yolo,
    format_ccpd_name,
    main,
    parse_ccpd_name,
)
from training.datasets import read_ocr_set, split_of
from training.errors import DatasetError

EXAMPLE = "025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg"
# Made-up plates with valid indices: two blue (7 characters) and one green new-energy plate (8 characters).
PLATES = ("皖AY339S", "京PL3N67", "粤BD12345")


def test_parse_the_ccpd_readme_example() -> None:
    label = parse_ccpd_name(EXAMPLE)
    assert label.plate == "皖AY339S"
    assert label.box == Box(154, 383, 386, 473)
    assert label.corners == ((386, 473), (177, 454), (154, 383), (363, 402))
    assert (label.tilt, label.brightness, label.blur) == ((95, 113), 37, 15)
    assert parse_ccpd_name(f"/data/ccpd_base/{EXAMPLE}") == label  # paths work too
    assert format_ccpd_name(label, area=25) == EXAMPLE


def test_green_plates_have_eight_characters() -> None:
    assert decode_plate([0, 0, 3, 24, 24, 25, 26, 27]) == "皖AD00123"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("car.jpg", "not a CCPD name"),
        ("025-95_113-154&383_386&473-386&473_177&454_154&383-0_0_22_27_27_33_16-37-15.jpg", "3 point"),
        ("025-95_113-386&473_154&383-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "empty"),
        ("025-95_113-154&383_386&x-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "integers"),
        ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_35_16-37-15.jpg", "outside 0..34"),
        ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_25_22_27_27_33_16-37-15.jpg", "outside 0..24"),
        ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33-37-15.jpg", "6 indices"),
        ("025-95-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "h_v"),
    ],
)
def test_malformed_names_raise_dataset_error(name: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        parse_ccpd_name(name)


Sample = tuple[Path, CcpdLabel]


@pytest.fixture(scope="module")
def ccpd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Sample]]:
    """3 real photos under CCPD names that encode their real boxes, plus two files that are not CCPD-named."""
    root = tmp_path_factory.mktemp("ccpd")
    (root / "ccpd_base").mkdir()
    (root / "ccpd_green").mkdir()
    samples = []
    for i, (row, plate) in enumerate(zip(endtoend_rows(3), PLATES, strict=True)):
        x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
        box = Box(x, y, x + w, y + h)
        corners = ((box.x2, box.y2), (box.x1, box.y2), (box.x1, box.y1), (box.x2, box.y1))  # br, bl, tl, tr
        label = CcpdLabel(box=box, corners=corners, plate=plate, tilt=(90, 90), brightness=40 + i, blur=10 + i)
        path = root / ("ccpd_green" if len(plate) == 8 else "ccpd_base") / format_ccpd_name(label, area=i)
        with Image.open(dataset("endtoend-us") / row["file"]) as image:
            image.convert("RGB").save(path, quality=90)  # re-encoded: the copy is the test's own file
        samples.append((path, label))
    Image.new("RGB", (64, 48)).save(root / "ccpd_base" / "no-plate-here.jpg")  # like ccpd_np's names
    (root / "ccpd_base" / EXAMPLE.replace("0_0_22", "0_0_99")).write_bytes(b"")  # bad plate index
    return root, samples


def read_yolo(path: Path) -> list[float]:
    cls, *values = path.read_text().split()
    assert cls == "0"
    return [float(v) for v in values]


def test_names_round_trip(ccpd: tuple[Path, list[Sample]]) -> None:
    for path, label in ccpd[1]:
        assert parse_ccpd_name(path.name) == label
        assert parse_ccpd_name(format_ccpd_name(label)) == label


def test_yolo_export_matches_boxes_and_splits(ccpd: tuple[Path, list[Sample]], tmp_path: Path) -> None:
    root, samples = ccpd
    counts = export_ccpd_to_yolo(root, tmp_path / "yolo", val_fraction=0.5)
    splits = [split_of(path.name, 0.5) for path, _ in samples]  # by file name: the same on every machine
    assert counts == {"train": splits.count("train"), "val": splits.count("val"), "skipped": 2}
    for (source, label), split in zip(samples, splits, strict=True):
        image = tmp_path / "yolo" / "images" / split / source.name
        assert image.is_symlink() and image.resolve() == source.resolve()
        with Image.open(source) as im:
            width, height = im.size
        box = label.box
        expected = [(box.x1 + box.x2) / 2 / width, (box.y1 + box.y2) / 2 / height,
                    box.width / width, box.height / height]
        got = read_yolo(tmp_path / "yolo" / "labels" / split / f"{source.stem}.txt")
        assert got == pytest.approx(expected, abs=1e-6)
    # A rerun is deterministic and may copy instead of link.
    again = export_ccpd_to_yolo(root, tmp_path / "yolo", val_fraction=0.5, link=False)
    assert again == counts
    copies = list((tmp_path / "yolo" / "images").rglob("*.jpg"))
    assert len(copies) == 3 and not any(p.is_symlink() for p in copies)


def test_crop_export_is_a_readable_ocr_set(ccpd: tuple[Path, list[Sample]], tmp_path: Path) -> None:
    root, samples = ccpd
    by_plate = dict((label.plate, (path, label)) for path, label in samples)
    csv_path = export_ccpd_crops(root, tmp_path / "crops")
    assert csv_path == tmp_path / "crops" / "labels.csv"
    assert csv_path.read_text(encoding="utf-8").splitlines()[0] == "file,text,region"
    crops = read_ocr_set(tmp_path / "crops")
    assert sorted(c.text for c in crops) == sorted(PLATES) and {c.region for c in crops} == {"cn"}
    for crop in crops:
        pixels = np.asarray(Image.open(crop.path).convert("RGB"), dtype=np.float32)
        assert pixels.shape == (96, 288, 3)
        # The corners are the box's own, so the rectified crop is the box resized: not mirrored, not turned.
        path, label = by_plate[crop.text]
        b = label.box
        source = np.asarray(Image.open(path).convert("RGB"))
        direct = cv2.resize(source[int(b.y1):int(b.y2), int(b.x1):int(b.x2)], (288, 96)).astype(np.float32)
        assert np.abs(pixels - direct).mean() < 0.5 * np.abs(pixels - direct[::-1, ::-1]).mean()


def test_cli_exit_codes(ccpd: tuple[Path, list[Sample]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = ccpd
    assert main(["yolo", str(root), str(tmp_path / "yolo"), "--copy"]) == 0
    assert "2 skipped" in capsys.readouterr().out
    assert main(["crops", str(root), str(tmp_path / "crops")]) == 0
    assert "3 crops" in capsys.readouterr().out
    assert main(["crops", str(tmp_path / "missing"), str(tmp_path / "crops")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_crops_leave_out_plates_with_unknown_characters(ccpd: tuple[Path, list[Sample]], tmp_path: Path) -> None:
    path, label = ccpd[1][0]
    (tmp_path / "in").mkdir()
    unknown = CcpdLabel(label.box, label.corners, "皖AY33OS", label.tilt, label.brightness, label.blur)
    (tmp_path / "in" / format_ccpd_name(unknown)).write_bytes(path.read_bytes())
    (tmp_path / "in" / path.name).write_bytes(path.read_bytes())
    labels = export_ccpd_crops(tmp_path / "in", tmp_path / "out")
    assert [c.text for c in read_ocr_set(labels.parent)] == [label.plate]
