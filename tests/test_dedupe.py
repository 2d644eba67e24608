"""One read per plate: pipeline.dedupe on hand-made reads, and on real frames through the PlateReader."""

from __future__ import annotations

from pathlib import Path

from pipeline.dedupe import drop_duplicates
from pipeline.reader import PlateReader
from pipeline.records import Box, Detection, PlateCandidate, PlateRead
from tests.conftest import endtoend_rows, load_frame


def read(plate: str, box: Box) -> PlateRead:
    return PlateRead(Detection(box, 0.9), box, plate, 95.0, [PlateCandidate(plate, 95.0)])


PLATE = Box(100, 100, 200, 130)
AROUND = Box(60, 80, 260, 160)  # the plate with the bumper around it


def test_box_covers_gives_the_share_of_the_other_box_inside() -> None:
    assert AROUND.covers(PLATE) == 1.0
    assert PLATE.covers(AROUND) == (100 * 30) / (200 * 80)
    assert PLATE.covers(Box(150, 100, 250, 130)) == 0.5
    assert PLATE.covers(Box(300, 300, 310, 310)) == 0.0


def test_a_box_around_a_plate_that_reads_alike_is_dropped() -> None:
    inner, outer = read("R107555", PLATE), read("R10755544", AROUND)
    assert drop_duplicates([outer, inner]) == [inner]
    assert drop_duplicates([inner, read("R107555", AROUND)]) == [inner]


def test_a_box_around_a_plate_that_reads_otherwise_is_kept() -> None:
    """A close-up: the main pass boxes a word on the plate, the small pass the whole plate; both stay."""
    word, plate = read("LAMBORGHIN", PLATE), read("378DXR", AROUND)
    assert drop_duplicates([word, plate]) == [word, plate]


def test_of_two_boxes_holding_each_other_the_first_is_kept() -> None:
    first, second = read("ABC123", PLATE), read("ABC123", Box(101, 100, 201, 130))
    assert drop_duplicates([first, second]) == [first]
    assert drop_duplicates([second, first]) == [second]


def test_plates_side_by_side_are_all_kept() -> None:
    reads = [read("ABC123", PLATE), read("ABC123", Box(300, 100, 400, 130)), read("XYZ789", Box(0, 0, 50, 20))]
    assert drop_duplicates(reads) == reads


def test_real_frames_report_each_plate_once(service_reader: PlateReader, endtoend_dir: Path) -> None:
    """Frames where the pass at 224 boxes the plate with the bumper around it (a box 1.6-1.9x the plate's
    width around the main pass's box, reading the same plate): one read of the plate, the inner box, is reported,
    and the close-up us10.jpg, where the main pass boxes part of the plate, keeps the small pass's whole plate."""
    rows = {r["file"]: r for r in endtoend_rows()}
    for name in ("wts-lg-000120.jpg", "wts-lg-000140.jpg", "wts-lg-000158.jpg", "us10.jpg"):
        row = rows[name]
        x, y, w, h = (float(row[k]) for k in "xywh")
        label = Box(x, y, x + w, y + h)
        [result] = service_reader.read([load_frame(endtoend_dir / name)])
        on_plate = [r for r in result.reads if r.box.covers(label) > 0.7 or label.covers(r.box) > 0.7]
        assert [r.plate for r in on_plate if r.box.iou(label) >= 0.5] == [row["plate"]], (name, on_plate)
        assert len([r for r in on_plate if r.plate == row["plate"]]) == 1, (name, on_plate)
