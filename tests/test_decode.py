"""Decode stage on real photos and on every kind of bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.decode import decode_image
from pipeline.errors import EmptyImage, ImageTooLarge, NotAnImage, TruncatedImage
from tests.conftest import endtoend_rows


@pytest.mark.parametrize("row", endtoend_rows(4), ids=lambda r: r["file"][:8])
def test_decodes_real_frames_to_rgb(endtoend_dir: Path, row: dict[str, str]) -> None:
    data = (endtoend_dir / row["file"]).read_bytes()
    frame = decode_image(data, row["file"])
    with Image.open(io.BytesIO(data)) as image:
        assert (frame.width, frame.height) == image.size
    assert frame.image.dtype == np.uint8 and frame.image.shape[2] == 3


@pytest.mark.parametrize("padding", [b"", b"\0" * 64], ids=["plain", "zero-padded"])
def test_fast_jpeg_decode_equals_pillow(endtoend_dir: Path, padding: bytes) -> None:
    """Complete JPEGs take OpenCV's decoder: the same pixels as Pillow's, upright and RGB (not BGR)."""
    for row in endtoend_rows(3):
        data = (endtoend_dir / row["file"]).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            expected = np.asarray(image.convert("RGB"))
        np.testing.assert_array_equal(decode_image(data + padding).image, expected)


def test_empty_file() -> None:
    with pytest.raises(EmptyImage, match="empty"):
        decode_image(b"", "x.jpg")


@pytest.mark.parametrize("data", [b"hello, not an image", b"%PDF-1.4\n" + b"0" * 500, bytes(range(256)) * 4])
def test_non_image(data: bytes) -> None:
    with pytest.raises(NotAnImage, match="not a recognised image"):
        decode_image(data, "x.bin")


def test_truncated_jpeg(endtoend_dir: Path) -> None:
    data = (endtoend_dir / endtoend_rows(1)[0]["file"]).read_bytes()
    with pytest.raises(TruncatedImage, match="truncated"):
        decode_image(data[: len(data) // 3], "cut.jpg")


def test_over_pixel_limit_is_refused_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300)).save(buffer, "PNG")
    with pytest.raises(ImageTooLarge, match="exceeds the limit of 100000"):
        decode_image(buffer.getvalue(), "big.png", max_pixels=100_000)
    assert decode_image(buffer.getvalue(), "ok.png", max_pixels=120_000).width == 400


def test_exif_orientation_is_applied() -> None:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: a phone photo taken upright
    Image.new("RGB", (200, 100)).save(buffer, "JPEG", exif=exif.tobytes())
    frame = decode_image(buffer.getvalue())
    assert (frame.width, frame.height) == (100, 200)


def test_formats_without_an_installed_plugin_are_not_images() -> None:
    import ultralytics  # noqa: F401  # registers a HEIF opener that needs a package we do not install

    with pytest.raises(NotAnImage):
        decode_image(b"\x00\x00\x00\x18ftypheic" + bytes(100), "photo.heic")
