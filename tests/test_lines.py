"""Two-line plates: the gap between the lines is found, each line is read, and one-line plates are left alone."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from pipeline.crop import whole_image_crop
from pipeline.lines import TwoLineConfig, line_gap, split_lines
from pipeline.reader import PlateReader
from platestream.commands.common import add_reader_options, build_reader, settings_from
from platestream.settings import CoreSettings
from tests.conftest import load_frame, ocr_rows
from training.datasets import read_endtoend
from training.evaluate import read_for_label

LABELS = Path(__file__).resolve().parents[1] / "training" / "labels" / "plates-detect-val.csv"
# hand-read two-line plates of plates-detect/val that a one-line read gets wrong
TWO_LINE = {"openlpr_1104.jpg": "LZO9877", "openlpr_1437.jpg": "RIX5793", "openlpr_2379.jpg": "BA257480",
            "openlpr_1127.jpg": "LWD727", "openlpr_1455.jpg": "LRH5486", "openlpr_881.jpg": "MC51OFW"}


def drawn_lines(rows: int) -> np.ndarray:
    """A dark-on-light plate of `rows` bars of 'text' (vertical strokes), 60 px high and 100 wide."""
    plate = np.full((60, 100), 230, np.uint8)
    bands = [(8, 26), (34, 52)] if rows == 2 else [(12, 48)]
    for top, bottom in bands:
        for x in range(10, 90, 8):
            plate[top:bottom, x : x + 3] = 30
    return np.stack([plate] * 3, axis=-1)


def test_the_gap_is_found_between_two_lines_only() -> None:
    config = TwoLineConfig()
    row = line_gap(drawn_lines(2), config)
    assert row is not None and 26 <= row <= 34
    top, bottom = split_lines(drawn_lines(2), row)
    assert top.shape[0] + bottom.shape[0] > 60 and top.shape[1] == bottom.shape[1] == 100  # they overlap a little
    assert line_gap(drawn_lines(1), config) is None  # one line: no empty row in the middle third
    wide = np.concatenate([drawn_lines(2)] * 4, axis=1)
    assert line_gap(wide, config) is None  # 400 x 60: a one-line plate's shape, whatever its rows look like
    assert line_gap(drawn_lines(2), TwoLineConfig(enabled=False)) is None


@pytest.fixture(scope="module")
def one_line_reader() -> PlateReader:
    return build_reader(CoreSettings(_env_file=None, read_two_lines=False))  # type: ignore[call-arg]


def test_two_line_plates_are_read_line_by_line(
    service_reader: PlateReader, one_line_reader: PlateReader, detect_dir: Path
) -> None:
    samples = [s for s in read_endtoend(detect_dir, LABELS) if s.path.name in TWO_LINE]
    assert len(samples) == len(TWO_LINE)
    for sample in samples:
        frame = load_frame(sample.path)
        two = read_for_label(service_reader.read([frame])[0], sample)
        one = read_for_label(one_line_reader.read([frame])[0], sample)
        assert two is not None and two.plate == TWO_LINE[sample.path.name]
        assert one is None or one.plate != two.plate  # what the one-line read missed


def test_one_line_plates_read_the_same(service_reader: PlateReader, one_line_reader: PlateReader,
                                       ocr_dir: Path) -> None:
    """US close-ups (state name above, slogan below) look like two lines to the gap finder; their sure one-line
    read must stand. And the Brazilian and Chinese crops are one-line plates."""
    rows = ocr_rows("us", 120) + ocr_rows("br", 40) + ocr_rows("cn", 20)
    crops = [whole_image_crop(load_frame(ocr_dir / row["file"]).image) for row in rows]
    split = sum(line_gap(c.image, TwoLineConfig()) is not None for c in crops)
    assert split >= 5  # the check below covers crops the gap finder does split
    assert [t.text for t in service_reader.recognizer.read(crops)] == \
        [t.text for t in one_line_reader.recognizer.read(crops)]


def test_the_setting_and_option_switch_it_off() -> None:
    assert CoreSettings(_env_file=None).reader_config().recognizer.two_lines.enabled  # type: ignore[call-arg]
    off = CoreSettings(_env_file=None, read_two_lines="false")  # type: ignore[call-arg]
    assert not off.reader_config().recognizer.two_lines.enabled
    parser = argparse.ArgumentParser()
    add_reader_options(parser)
    assert settings_from(parser.parse_args([])).read_two_lines
    assert not settings_from(parser.parse_args(["--one-line"])).read_two_lines
