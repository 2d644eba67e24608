"""Decode stage: bytes -> Frame, with a clear error for every kind of bad input."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.errors import EmptyImage, ImageTooLarge, NotAnImage, TruncatedImage
from pipeline.records import Frame

DEFAULT_MAX_PIXELS = 40_000_000  # ~ 8K x 5K: well above any camera, well below a decompression bomb


def decode_image(data: bytes, source: str = "", max_pixels: int = DEFAULT_MAX_PIXELS) -> Frame:
    """Decode JPEG/PNG/WebP/... bytes into an RGB frame, upright per its EXIF orientation."""
    if not data:
        raise EmptyImage(f"{source or 'input'}: file is empty")
    with warnings.catch_warnings():
        # Pillow warns, then raises, on huge images; our own limit below gives the user a clear message instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(f"{source or 'input'}: image is too large ({exc})") from exc
        except (UnidentifiedImageError, OSError, ValueError, ImportError) as exc:
            # ImportError: a format whose optional Pillow plugin is not installed (ultralytics registers a
            # HEIF opener that imports pi_heif only when such a file arrives).
            raise NotAnImage(f"{source or 'input'}: not a recognised image format") from exc
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"{source or 'input'}: {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}"
            )
        if image.format == "JPEG" and is_complete_jpeg(data):
            fast = decode_jpeg(data)
            if fast is not None:
                return Frame(image=fast, source=source)
        try:
            image.load()  # Pillow decodes lazily; a truncated file only fails here
        except (OSError, SyntaxError, ValueError, ImportError) as exc:
            raise TruncatedImage(f"{source or 'input'}: image data is truncated or corrupt ({exc})") from exc
    upright = ImageOps.exif_transpose(image).convert("RGB")
    return Frame(image=np.asarray(upright), source=source)


def is_complete_jpeg(data: bytes) -> bool:
    """Ends with the End-Of-Image marker (cameras may pad with zeros). libjpeg decodes a truncated file into a
    grey-bottomed picture without failing, so only complete files take the fast path; Pillow reports the rest."""
    return data.rstrip(b"\0").endswith(b"\xff\xd9")


def decode_jpeg(data: bytes) -> np.ndarray | None:
    """OpenCV's libjpeg-turbo decode, upright per EXIF: about 3x faster than Pillow's decode plus its copies
    into NumPy (3 vs 10 ms for a 720p frame here), which matters at 20+ frames per second per core."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
