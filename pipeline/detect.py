"""Detect stage: letterbox a batch of frames, run the detector engine, decode boxes with NMS."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engines import Engine
from pipeline.records import Box, Detection, Frame

PAD_VALUE = 114  # ultralytics' letterbox grey, the value the detector was trained with
# A detector trained on distant plates misses plates that fill a close-up frame at 640 but finds them at a small input
# (endtoend-us: recall 0.946 -> 0.964, exact 0.640 -> 0.662 with a pass at 224; 256 and 320 found the same plates
# at more cost). The pass at 224 costs an eighth of the one at 640.
DEFAULT_EXTRA_SIZES = (224,)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was scaled and padded into the square network input, to map boxes back."""

    scale: float
    pad_x: float
    pad_y: float


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    imgsz: int = 640  # endtoend-us: as good as 960 or 768 (recall 0.946 vs 0.941, 0.937), 2.3x less work than 960
    confidence: float = 0.25
    iou: float = 0.5
    max_detections: int = 20
    extra_sizes: tuple[int, ...] = DEFAULT_EXTRA_SIZES  # more passes at these input sizes, merged by NMS


def scale_for(frame: Frame, size: int) -> float:
    return min(size / frame.height, size / frame.width)


def batch_shape(frames: list[Frame], size: int, stride: int) -> tuple[int, int]:
    """The smallest stride-aligned (H, W) holding every scaled frame: a 1280x720 frame at 960 needs 960x544,
    not 960x960, which saves ~40% of the detector's work (the exported detector takes any size)."""
    heights = [round(f.height * scale_for(f, size)) for f in frames]
    widths = [round(f.width * scale_for(f, size)) for f in frames]
    return -(-max(heights) // stride) * stride, -(-max(widths) // stride) * stride


def letterbox(image: np.ndarray, size: int, shape: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Scale to fit `size`, then pad to `shape` (H, W) with the border split evenly."""
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if scale != 1 else image
    top, left = (shape[0] - new_h) // 2, (shape[1] - new_w) // 2
    padded = cv2.copyMakeBorder(
        resized, top, shape[0] - new_h - top, left, shape[1] - new_w - left, cv2.BORDER_CONSTANT,
        value=(PAD_VALUE,) * 3,
    )
    return padded, Letterbox(scale=scale, pad_x=left, pad_y=top)


def to_detector_batch(frames: list[Frame], size: int, stride: int, square: bool) -> tuple[np.ndarray, list[Letterbox]]:
    shape = (size, size) if square else batch_shape(frames, size, stride)
    images, boxes = zip(*(letterbox(f.image, size, shape) for f in frames), strict=True)
    batch = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # NHWC RGB -> NCHW [0, 1]
    return batch, list(boxes)


def nms(xywh: list[list[float]], scores: list[float], config: DetectorConfig) -> list[int]:
    """Indices of the boxes NMS keeps at `config.iou`, most confident first, at most `config.max_detections`."""
    chosen = cv2.dnn.NMSBoxes(xywh, scores, 0.0, config.iou)
    return [int(i) for i in np.asarray(chosen).reshape(-1)[: config.max_detections]]


def decode_predictions(
    prediction: np.ndarray, box: Letterbox, frame: Frame, config: DetectorConfig
) -> list[Detection]:
    """One image's (4 + classes, anchors) output -> detections in frame pixels, after NMS."""
    scores = prediction[4:].max(axis=0)
    keep = scores >= config.confidence
    if not keep.any():
        return []
    cx, cy, w, h = prediction[:4, keep]
    scores = scores[keep]
    xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    detections = []
    for i in nms(xywh.tolist(), scores.tolist(), config):  # scores are all >= config.confidence already
        x, y, bw, bh = xywh[i]
        x1 = np.clip((x - box.pad_x) / box.scale, 0, frame.width)
        y1 = np.clip((y - box.pad_y) / box.scale, 0, frame.height)
        x2 = np.clip((x + bw - box.pad_x) / box.scale, 0, frame.width)
        y2 = np.clip((y + bh - box.pad_y) / box.scale, 0, frame.height)
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            detections.append(Detection(Box(float(x1), float(y1), float(x2), float(y2)), float(scores[i])))
    return detections


def merge_detections(found: list[Detection], config: DetectorConfig) -> list[Detection]:
    """One box per plate across passes: the most confident of those overlapping by more than `config.iou`."""
    if len(found) < 2:
        return found
    xywh = [[d.box.x1, d.box.y1, d.box.width, d.box.height] for d in found]
    return [found[i] for i in nms(xywh, [d.confidence for d in found], config)]


def detect_at(frames: list[Frame], engine: Engine, size: int, config: DetectorConfig) -> list[list[Detection]]:
    """All frames in one forward pass at one input size."""
    meta = engine.metadata
    batch, boxes = to_detector_batch(frames, size, meta.stride, square=not meta.dynamic_size)
    output = engine.infer(batch)
    return [decode_predictions(output[i], boxes[i], frames[i], config) for i in range(len(frames))]


def detect(frames: list[Frame], engine: Engine, config: DetectorConfig) -> list[list[Detection]]:
    """Detect plates in all frames: one forward pass per input size (a fixed-size engine gets one pass)."""
    if not frames:
        return []
    meta = engine.metadata
    if not meta.dynamic_size:
        return detect_at(frames, engine, meta.input_height, config)
    passes = [detect_at(frames, engine, size, config) for size in (config.imgsz, *config.extra_sizes)]
    if len(passes) == 1:
        return passes[0]
    per_frame = zip(*passes, strict=True)
    return [merge_detections([d for found in frame_passes for d in found], config) for frame_passes in per_frame]
