"""Decode stage: bytes -> Frame, with a clear error for every kind of bad input."""

from __future__ import annotations

import io
import warnings

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
        try:
            image.load()  # Pillow decodes lazily; a truncated file only fails here
        except (OSError, SyntaxError, ValueError, ImportError) as exc:
            raise TruncatedImage(f"{source or 'input'}: image data is truncated or corrupt ({exc})") from exc
    upright = ImageOps.exif_transpose(image).convert("RGB")
    return Frame(image=np.asarray(upright), source=source)
