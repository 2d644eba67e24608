"""Photometric and geometric augmentation for plate crops (numpy / OpenCV, grayscale or RGB uint8)."""

from __future__ import annotations

import cv2
import numpy as np


def jitter_crop(image: np.ndarray, rng: np.random.Generator, amount: float = 0.08) -> np.ndarray:
    """Grow or shrink each side a little, like a detector box that is a bit loose or tight."""
    h, w = image.shape[:2]
    pads = (rng.uniform(-amount, amount * 1.5, 4) * np.array([h, h, w, w])).astype(int)
    top, bottom, left, right = pads
    padded = cv2.copyMakeBorder(image, max(top, 0), max(bottom, 0), max(left, 0), max(right, 0), cv2.BORDER_REPLICATE)
    y0, x0 = max(-top, 0), max(-left, 0)
    y1 = padded.shape[0] - max(-bottom, 0)
    x1 = padded.shape[1] - max(-right, 0)
    cropped = padded[y0:y1, x0:x1]
    return cropped if cropped.shape[0] > 4 and cropped.shape[1] > 4 else image


def warp(image: np.ndarray, rng: np.random.Generator, degrees: float = 4.0, shear: float = 0.15) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-degrees, degrees), rng.uniform(0.92, 1.05))
    matrix[0, 1] += rng.uniform(-shear, shear)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG artefacts: encode at `quality` and decode again (unchanged if OpenCV cannot)."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if ok else None
    return image if decoded is None else decoded


def photometric(image: np.ndarray, rng: np.random.Generator, shrink: bool = True) -> np.ndarray:
    out: np.ndarray = image.astype(np.float32)
    out = out * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)  # contrast, brightness
    if rng.random() < 0.3:
        out = 255 - out  # dark-on-light and light-on-dark plates both exist
    if rng.random() < 0.4:
        out += rng.normal(0, rng.uniform(2, 12), out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        k = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (k, k), 0)
    if shrink and rng.random() < 0.3:  # low-resolution plates: shrink and grow back
        h, w = out.shape[:2]
        f = rng.uniform(0.3, 0.7)
        small = cv2.resize(out, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.4:
        out = recompress(out, int(rng.integers(15, 70)))
    return out


def camera_view(image: np.ndarray, rng: np.random.Generator, min_height: int = 24, max_height: int = 64) -> np.ndarray:
    """The plate as a detector cuts it from a street camera frame: a bit loose, small, smeared, recompressed.

    Real crops in plates-ocr are sharp close-ups about 120 px high; plates in 720p frames are 30-75 px high
    (endtoend-us: 5th-95th percentile), softened by motion and compression, with some of the car around them.
    Without this the recognizer reads close-ups well and drops or confuses characters in live frames.
    """
    image = camera_smear(image, rng, min_height, max_height)
    h, w = image.shape[:2]
    top, bottom, left, right = (int(p) for p in rng.uniform(0.0, 0.12, 4) * np.array([h, h, w, w]))
    out: np.ndarray = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return out


def camera_smear(image: np.ndarray, rng: np.random.Generator, min_height: int, max_height: int) -> np.ndarray:
    """The crop shrunk to a random height in [min_height, max_height], sometimes motion-blurred, JPEG-recompressed,
    and grown back to its size: the detail a street camera keeps of it (unchanged if already that small)."""
    h, w = image.shape[:2]
    scale = rng.uniform(min_height, max_height) / h
    if scale < 1:
        small = cv2.resize(image, (max(4, round(w * scale)), max(4, round(h * scale))), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.3:  # horizontal motion blur of a passing car
            k = int(rng.integers(2, 4))
            small = cv2.filter2D(small, -1, np.full((1, k), 1.0 / k, np.float32))
        small = recompress(small, int(rng.integers(40, 90)))
        image = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return image


def stretch_x(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Widen or narrow the crop by a factor of up to 1 + amount (log-uniform): narrow and wide fonts, and the
    recognizer's `wide` read view (pipeline.views), which stretches crops 1.2x."""
    h, w = image.shape[:2]
    factor = float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(amount)))
    return cv2.resize(image, (max(4, round(w * factor)), h), interpolation=cv2.INTER_CUBIC)


def augment_plate(
    image: np.ndarray, rng: np.random.Generator, camera: float = 0.0, jitter: float = 0.08, stretch: float = 0.0,
) -> np.ndarray:
    """Jitter, stretch, warp and recolour a crop; with probability `camera`, also make it look cut from a street
    frame."""
    image = jitter_crop(image, rng, jitter)
    if stretch > 0 and rng.random() < 0.5:
        image = stretch_x(image, rng, stretch)
    if rng.random() < 0.7:
        image = warp(image, rng)
    as_camera = rng.random() < camera
    if as_camera:
        image = camera_view(image, rng)
    return photometric(image, rng, shrink=not as_camera)  # camera_view already made it small
