"""A CTC recognizer engine as the pipeline feeds it: crops in, per-frame probabilities over plate characters out.

Every crop is resized to the engine's input height; engines exported with a free width read each crop at the width
it needs (rounded up, so batches stay large), others at their fixed width. A crop's probabilities never depend on
what else is in its batch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from engines import Engine, EngineMetadata, ModelKind, check_kind

PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
WIDTH_STEP = 32  # input widths are rounded up to this: few distinct shapes, so batches stay large


def content_width(crop: np.ndarray, height: int, max_width: int) -> int:
    """Width of the crop scaled to `height`, capped at `max_width`."""
    h, w = crop.shape[:2]
    return max(1, min(max_width, math.ceil(height * w / max(h, 1))))


def input_width(crop: np.ndarray, height: int, max_width: int) -> int:
    """The input width a crop is read at: its scaled width rounded up to WIDTH_STEP (a 2:1 US plate needs 128
    of the 256 columns an EU plate needs)."""
    width = content_width(crop, height, max_width)
    return min(max_width, max(WIDTH_STEP, math.ceil(width / WIDTH_STEP) * WIDTH_STEP))


def pixels_per_frame(crop: np.ndarray, frames: int, height: int, width: int) -> float:
    """Crop columns per output frame of a crop read at input `width` (its content scaled to `height`, then padded)."""
    return (width / frames) * (crop.shape[1] / content_width(crop, height, width))


def to_recognizer_input(crop: np.ndarray, height: int, width: int, color: str = "gray") -> np.ndarray:
    """RGB crop -> C x H x W float32 in [-1, 1] (C = 1 for gray, 3 for bgr / rgb); narrow crops are padded by
    repeating their last column."""
    if color == "gray":
        image = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    else:
        image = crop if crop.ndim == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
        image = image[..., ::-1] if color == "bgr" else image
    new_w = content_width(image, height, width)
    resized = cv2.resize(image, (new_w, height), interpolation=cv2.INTER_CUBIC)
    if new_w < width:
        pad = ((0, 0), (0, width - new_w)) + ((0, 0),) * (resized.ndim - 2)
        resized = np.pad(resized, pad, mode="edge")
    scaled = (resized.astype(np.float32) / 255.0 - 0.5) / 0.5
    return scaled[None] if scaled.ndim == 2 else scaled.transpose(2, 0, 1)


def alphabet_matrix(charset: str, alphabet: str = PLATE_ALPHABET) -> np.ndarray:
    """(1 + len(charset)) x (1 + len(alphabet)) 0/1 matrix folding model classes into plate characters.

    Lower case folds into upper case; classes outside the plate alphabet (dashes, dots, spaces) fold into
    the blank, which is what they are on a plate: separators.
    """
    matrix = np.zeros((len(charset) + 1, len(alphabet) + 1), dtype=np.float32)
    matrix[0, 0] = 1.0
    for index, char in enumerate(charset, start=1):
        column = alphabet.find(char.upper())
        matrix[index, column + 1 if column >= 0 else 0] = 1.0
    return matrix


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class CtcModel:
    """One recognizer engine and how to feed it: its input size, colour and the fold of its classes into plate
    characters."""

    def __init__(self, engine: Engine, alphabet: str = PLATE_ALPHABET, dynamic_width: bool = True,
                 max_batch: int = 64) -> None:
        meta: EngineMetadata = check_kind(engine, ModelKind.RECOGNIZER).metadata
        self.engine = engine
        self.meta = meta
        self.height, self.width = meta.input_height, meta.input_width
        # Engines exported with a free width read each batch at the width its widest crop needs: less padding,
        # less work. Fixed-width engines (and TensorRT plans built for one shape) get the full width.
        self.dynamic_width = meta.dynamic_size and dynamic_width
        self.max_batch = max_batch
        fold = alphabet_matrix(meta.charset, alphabet)
        # Only the classes that are plate characters are summed; the blank takes the rest of each frame's
        # probability. The same as `probs @ fold`, without multiplying PaddleOCR's 18,710 classes per frame.
        self.kept = np.flatnonzero(fold[:, 1:].any(axis=1))
        self.fold_kept = fold[self.kept, 1:]

    def input_width(self, image: np.ndarray) -> int:
        return input_width(image, self.height, self.width) if self.dynamic_width else self.width

    def pixels_per_frame(self, image: np.ndarray, frames: int) -> float:
        """Crop columns per output frame of `image` as this model reads it."""
        return pixels_per_frame(image, frames, self.height, self.input_width(image))

    def fold(self, probs: np.ndarray) -> np.ndarray:
        """(..., classes) probabilities -> (..., 1 + len(alphabet)): plate characters, and the blank for the rest."""
        chars = probs[..., self.kept] @ self.fold_kept
        blank = np.clip(1.0 - chars.sum(axis=-1, keepdims=True), 0.0, 1.0)
        return np.concatenate([blank, chars], axis=-1)

    def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """(T, 1 + len(alphabet)) per image. Images of the same input width go through together, so an image
        reads the same in any batch."""
        by_width: dict[int, list[int]] = {}
        for i, image in enumerate(images):
            by_width.setdefault(self.input_width(image), []).append(i)
        out: dict[int, np.ndarray] = {}
        for width, indices in by_width.items():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                batch = np.stack([to_recognizer_input(images[i], self.height, width, self.meta.color)
                                  for i in chunk])
                output = self.engine.infer(batch)
                probs = output if self.meta.output == "probabilities" else softmax(output)
                out.update(zip(chunk, self.fold(probs), strict=True))
        return [out[i] for i in range(len(images))]
