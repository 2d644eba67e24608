"""Crop stage: cut each detected plate out of its frame, widened or trimmed per axis.

The region cut is also the box the product reports for the plate (`PlateRead.box`, the API's `box` and
`coordinates`): the plate as it was read, not the detector's raw box, which stays in `Detection`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.records import Box, Detection, Frame, PlateCrop

DEFAULT_MARGIN_X = 0.0
DEFAULT_MARGIN_Y = -0.1
DEFAULT_SECOND_MARGIN_Y = -0.2  # of the second reader's extra view (PlateCrop.tight)


@dataclass(frozen=True, slots=True)
class CropMargins:
    """Share of the box size added on each side (negative: trimmed).

    The recognizer learned from crops cut at the plate's edge (plates-ocr), while the detector's boxes take in the
    plate holder too: on endtoend-us they are a median 1.22x the labelled plate height but only 1.13x its width.
    Trimming 10% of the height at top and bottom gives back the plate-edge crop; endtoend-us exact reads (shipped
    engines, same detections) went 128 -> 146 of 217, with a plateau from 8% to 15%. Width changes of +-3% made
    no difference, so the width is left as detected. Reported as the plate's box, the trimmed region also overlaps
    endtoend-us's plate-edge labels better: detection recall at IoU 0.5 0.964 -> 0.977 (0.973 from 5% to 12%).
    """

    x: float = DEFAULT_MARGIN_X
    y: float = DEFAULT_MARGIN_Y
    # The second reader (PaddleOCR's, a reader of any text) also reads the plate trimmed this much: on endtoend-us
    # it reads 66% of the plates exactly at -0.1 and 76% at -0.2, as it reads the state name and the dealer frame
    # at a plate's top and bottom too; our recognizer is flat from -0.08 to -0.15. Not tighter than `y`: no view.
    second_y: float = DEFAULT_SECOND_MARGIN_Y


def plate_box(box: Box, width: int, height: int, margins: CropMargins = CropMargins()) -> Box:
    """The whole-pixel region of a `width` x `height` frame that `margins` make of a detector's box."""
    dx, dy = box.width * margins.x, box.height * margins.y
    x1, y1 = max(0, int(box.x1 - dx)), max(0, int(box.y1 - dy))
    x2, y2 = min(width, round(box.x2 + dx)), min(height, round(box.y2 + dy))
    # a trim never leaves less than a pixel row or column
    return Box(x1, y1, max(x2, min(width, x1 + 1)), max(y2, min(height, y1 + 1)))


def cut(frame: Frame, box: Box) -> np.ndarray:
    return frame.image[int(box.y1) : int(box.y2), int(box.x1) : int(box.x2)]


def crop_plate(frame: Frame, detection: Detection, margins: CropMargins = CropMargins()) -> PlateCrop:
    def at_height(y: float) -> np.ndarray:
        return cut(frame, plate_box(detection.box, frame.width, frame.height, CropMargins(margins.x, y)))

    box = plate_box(detection.box, frame.width, frame.height, margins)
    crop = PlateCrop(detection=detection, box=box, image=cut(frame, box))
    if margins.y < 0:
        crop.full_height = at_height(0.0)
    if margins.second_y < margins.y:
        crop.tight = at_height(margins.second_y)
    return crop


def whole_image_crop(image: np.ndarray) -> PlateCrop:
    """An image that is already a plate crop (a labelled crop set, not a camera frame)."""
    box = Box(0, 0, image.shape[1], image.shape[0])
    return PlateCrop(detection=Detection(box, 1.0), box=box, image=image)
