"""Detect and crop stages: letterbox geometry, box decoding, and the shipped detector on real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines import Engine
from pipeline.crop import CropMargins, crop_plate
from pipeline.detect import (
    DetectorConfig,
    Letterbox,
    batch_shape,
    decode_predictions,
    detect,
    letterbox,
    merge_detections,
)
from pipeline.records import Box, Detection, Frame
from tests.conftest import endtoend_rows, load_frame


def blank_frame(width: int, height: int) -> Frame:
    return Frame(np.zeros((height, width, 3), np.uint8))


def test_batch_shape_is_stride_aligned_and_not_square_for_wide_frames() -> None:
    assert batch_shape([blank_frame(1280, 720)], 960, 32) == (544, 960)
    assert batch_shape([blank_frame(1280, 720), blank_frame(600, 800)], 960, 32) == (960, 960)


def test_letterbox_pads_evenly_and_maps_back() -> None:
    image, box = letterbox(np.zeros((720, 1280, 3), np.uint8), 960, (544, 960))
    assert image.shape == (544, 960, 3)
    assert box == Letterbox(scale=0.75, pad_x=0, pad_y=2)
    # one anchor: a 60x30 box centred at (480, 272) in network pixels
    prediction = np.zeros((5, 3), np.float32)
    prediction[:, 1] = [480, 272, 60, 30, 0.9]
    found = decode_predictions(prediction, box, blank_frame(1280, 720), DetectorConfig(confidence=0.5))
    assert len(found) == 1
    assert found[0].box == Box(600.0, 340.0, 680.0, 380.0)  # (480 - 30) / 0.75, (272 - 15 - 2) / 0.75, ...
    assert found[0].confidence == pytest.approx(0.9)


def test_nms_keeps_one_of_overlapping_boxes() -> None:
    prediction = np.array([[100, 101], [100, 100], [50, 50], [20, 20], [0.9, 0.8]], np.float32)
    found = decode_predictions(prediction, Letterbox(1.0, 0, 0), blank_frame(640, 640), DetectorConfig())
    assert [round(d.confidence, 1) for d in found] == [0.9]


def test_merging_passes_keeps_the_most_confident_of_each_plate() -> None:
    near = Detection(Box(100, 100, 160, 130), 0.6)
    same_plate = Detection(Box(102, 101, 161, 131), 0.8)
    elsewhere = Detection(Box(400, 300, 460, 330), 0.3)
    merged = merge_detections([near, elsewhere, same_plate], DetectorConfig())
    assert merged == [same_plate, elsewhere]


def test_close_up_plate_is_found_by_a_smaller_extra_pass(detector: Engine, endtoend_dir: Path) -> None:
    """us10.jpg: a plate filling a third of an 800x600 close-up, larger than any the detector was trained on at 640.
    The default extra pass (224) must add it, and what the 640 pass found must stay found."""
    row = next(r for r in endtoend_rows(222) if r["file"] == "us10.jpg")
    x, y, w, h = (float(row[k]) for k in "xywh")
    label = Box(x, y, x + w, y + h)
    frame = load_frame(endtoend_dir / "us10.jpg")
    single = detect([frame], detector, DetectorConfig(extra_sizes=()))[0]
    both = detect([frame], detector, DetectorConfig())[0]
    assert max((d.box.iou(label) for d in both), default=0.0) >= 0.5
    assert all(any(d.box.iou(s.box) > 0.5 for d in both) for s in single)
    assert len(both) <= len(single) + len(detect([frame], detector, DetectorConfig(imgsz=224, extra_sizes=()))[0])


def test_crop_adds_margin_and_stays_inside_frame() -> None:
    frame = blank_frame(200, 100)
    crop = crop_plate(frame, Detection(Box(10, 10, 110, 40), 0.9), CropMargins(0.1, 0.1))
    assert crop.image.shape[:2] == (36, 120)
    edge = crop_plate(frame, Detection(Box(0, 0, 200, 100), 0.9), CropMargins(0.1, 0.1))
    assert edge.image.shape[:2] == (100, 200)


def test_crop_trims_the_plate_holder_by_default_and_never_to_nothing() -> None:
    frame = blank_frame(200, 100)
    crop = crop_plate(frame, Detection(Box(10, 10, 110, 60), 0.9))
    assert crop.image.shape[:2] == (40, 100)  # 10% of the 50 px height off the top and the bottom
    assert crop.box == Box(10, 15, 110, 55)  # the region cut, which is the box reads report
    assert crop.full_height is not None and crop.full_height.shape[:2] == (50, 100)  # for two-line plates
    assert crop_plate(frame, Detection(Box(10, 10, 110, 60), 0.9), CropMargins(0.1, 0.0)).full_height is None
    assert crop.tight is not None and crop.tight.shape[:2] == (30, 100)  # the second reader's cut: 20% off each
    assert crop_plate(frame, Detection(Box(10, 10, 110, 60), 0.9), CropMargins(0.0, -0.1, -0.1)).tight is None
    sliver = crop_plate(frame, Detection(Box(10, 10, 12, 12), 0.9), CropMargins(-0.4, -0.4))
    assert sliver.image.shape[0] >= 1 and sliver.image.shape[1] >= 1


def test_batched_detection_equals_single(detector: Engine, endtoend_dir: Path) -> None:
    frames = [load_frame(endtoend_dir / r["file"]) for r in endtoend_rows(6)]
    frames = [f for f in frames if (f.width, f.height) == (frames[0].width, frames[0].height)]
    config = DetectorConfig(confidence=0.1)
    batched = detect(frames, detector, config)
    single = [detect([f], detector, config)[0] for f in frames]
    def corners(found: list[Detection]) -> list[float]:
        return [v for d in found for v in (d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.confidence)]

    for got, want in zip(batched, single, strict=True):
        assert corners(got) == pytest.approx(corners(want), abs=1e-3)


@pytest.mark.parametrize("row", endtoend_rows(222)[::11], ids=lambda r: r["file"][:8])
def test_boxes_are_inside_the_frame(detector: Engine, endtoend_dir: Path, row: dict[str, str]) -> None:
    frame = load_frame(endtoend_dir / row["file"])
    for found in detect([frame], detector, DetectorConfig(confidence=0.05))[0]:
        assert 0 <= found.box.x1 < found.box.x2 <= frame.width
        assert 0 <= found.box.y1 < found.box.y2 <= frame.height
        assert 0.05 <= found.confidence <= 1.0


def test_shipped_detector_finds_labelled_plates(detector: Engine, endtoend_dir: Path) -> None:
    """A floor under the shipped detector's recall (measured: see engines/models/MODEL_CARD.md)."""
    rows = endtoend_rows(222)[::6]
    hits = 0
    for row in rows:
        x, y, w, h = (float(row[k]) for k in "xywh")
        label = Box(x, y, x + w, y + h)
        found = detect([load_frame(endtoend_dir / row["file"])], detector, DetectorConfig())[0]
        hits += any(d.box.iou(label) >= 0.5 for d in found)
    assert hits / len(rows) >= 0.85, f"recall {hits}/{len(rows)}"
