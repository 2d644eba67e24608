"""Synthetic license plates for pre-training and augmenting the CTC recognizer.

PIL draws a clean plate (border, band, small header/footer lines, characters fitted to their box); OpenCV then
makes it look like a detector crop from a camera: perspective, rotation, a little context around the plate,
uneven light, blur, downscaling, noise and JPEG artefacts.

    python -m training.synthetic OUT_DIR --count 1000 --seed 0 [--styles eu,gb]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from training.emblems import EMBLEM, EMBLEM_COLORS, EMBLEM_WIDTH, draw_emblem
from training.plate_styles import PROVINCES, RGB, STYLES, PlateStyle, find_cjk_font, find_fonts, generate_text

CANVAS_HEIGHT = 128  # clean plates are drawn at this height, then warped and scaled to the output size
DRAW_SIZE = 96  # text is drawn at this font size and then resized into its box


@dataclass(frozen=True)
class SyntheticPlate:
    image: np.ndarray  # RGB uint8
    text: str  # label: the plate characters only, no spaces/dashes (e.g. "AB123CD", "京A12345")
    region: str  # style name


@lru_cache(maxsize=32)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _text_mask(text: str, latin: Path, cjk: Path | None, spacing: float,
               rng: np.random.Generator | None = None) -> tuple[Image.Image, Image.Image]:
    """White-on-black masks of a text line's glyphs and of its emblems, cropped to their ink. Drawn glyph by glyph
    on a common baseline so a province character can come from the CJK font and the letter spacing of real plates
    can be added; EMBLEM draws an emblem (rng needed) in a separate mask, as it has a colour of its own."""
    fonts = [_font(cjk if cjk is not None and char in PROVINCES else latin, DRAW_SIZE) for char in text]
    advances = [EMBLEM_WIDTH * DRAW_SIZE if c == EMBLEM else f.getlength(c) for f, c in zip(fonts, text, strict=True)]
    width = sum(int(a + spacing * DRAW_SIZE) + 2 for a in advances) + DRAW_SIZE
    mask, emblems = Image.new("L", (width, DRAW_SIZE * 2), 0), Image.new("L", (width, DRAW_SIZE * 2), 0)
    draw, x, baseline = ImageDraw.Draw(mask), DRAW_SIZE / 4, DRAW_SIZE * 1.5
    for font, char, advance in zip(fonts, text, advances, strict=True):
        if char == EMBLEM:
            if rng is None:
                raise ValueError("drawing an emblem needs an rng")
            cap = DRAW_SIZE * 0.72  # about the height of a capital letter above the baseline
            draw_emblem(ImageDraw.Draw(emblems), (x, baseline - cap, x + advance, baseline), rng)
        else:
            draw.text((x, baseline), char, fill=255, font=font, anchor="ls")
        x += advance + spacing * DRAW_SIZE
    box = ImageChops.lighter(mask, emblems).getbbox()
    return (mask.crop(box), emblems.crop(box)) if box else (mask, emblems)


def _draw_text(plate: Image.Image, text: str, box: tuple[int, int, int, int], color: RGB, latin: Path,
               cjk: Path | None = None, spacing: float = 0.0, squeeze: float = 1.0,
               rng: np.random.Generator | None = None, emblem_color: RGB | None = None) -> None:
    """Fit the text into box: full height, squeezed horizontally when too wide (plate fonts are narrow)."""
    x0, y0, x1, y1 = box
    mask, emblems = _text_mask(text, latin, cjk, spacing, rng)
    height = max(1, y1 - y0)
    width = min(x1 - x0, int(mask.width * height / mask.height * squeeze))
    if width < 1:
        return
    left = x0 + (x1 - x0 - width) // 2
    plate.paste(color, (left, y0), mask.resize((width, height), Image.Resampling.LANCZOS))
    if emblems.getbbox():
        plate.paste(emblem_color or color, (left, y0), emblems.resize((width, height), Image.Resampling.LANCZOS))


def _jitter(color: RGB, rng: np.random.Generator, amount: int = 12) -> RGB:
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)
    return r, g, b


def _draw_eu_band(plate: Image.Image, style: PlateStyle, rng: np.random.Generator, font: Path, inset: int) -> int:
    """Blue strip with the ring of stars and a country code; returns where the characters may start."""
    h = plate.height
    right = inset + int(h * 0.38)
    draw = ImageDraw.Draw(plate)
    draw.rectangle((inset, inset, right, h - inset), fill=_jitter(style.band_color, rng))
    cx, cy, radius, dot = (inset + right) / 2, h * 0.32, h * 0.14, max(1.5, h * 0.025)
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        x, y = cx + radius * np.cos(angle), cy + radius * np.sin(angle)
        draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=(255, 204, 0))
    code = style.band_texts[int(rng.integers(len(style.band_texts)))]
    _draw_text(plate, code, (inset + 3, int(h * 0.56), right - 3, int(h * 0.86)), (250, 250, 250), font)
    return right + int(h * 0.06)


def _small_line(style: PlateStyle, rng: np.random.Generator) -> str:
    return style.header_texts[int(rng.integers(len(style.header_texts)))] if style.header_texts else ""


def draw_plate(style: PlateStyle, text: str, rng: np.random.Generator, font: Path, cjk: Path | None) -> Image.Image:
    """The clean, front-on plate with text as drawn ("/" starts the second row of two-line layouts)."""
    h = CANVAS_HEIGHT
    w = round(style.aspect * h)
    plate = Image.new("RGB", (w, h), _jitter(style.backgrounds[int(rng.integers(len(style.backgrounds)))], rng))
    draw = ImageDraw.Draw(plate)
    edge = max(2, int(h * rng.uniform(0.02, 0.045)))
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=int(h * 0.08), outline=style.border_color, width=edge)
    inset, pad = edge + 1, int(h * 0.07)
    x0, y0, x1, y1 = inset + pad, inset + pad, w - inset - pad, h - inset - pad
    if style.band == "left":
        x0 = _draw_eu_band(plate, style, rng, font, inset)
    elif style.band == "top":  # Mercosur: blue strip with BRASIL across the top
        bottom = int(h * 0.24)
        draw.rectangle((inset, inset, w - inset, bottom), fill=_jitter(style.band_color, rng))
        _draw_text(plate, style.band_texts[0], (x0, inset + 4, x1, bottom - 4), (250, 250, 250), font, spacing=0.1)
        y0 = bottom + int(h * 0.06)
    header = _small_line(style, rng)
    if header:  # US state name / Brazilian city above the characters, in small type the OCR must ignore
        _draw_text(plate, header, (x0, inset + 3, x1, inset + int(h * 0.15)), style.header_color, font, spacing=0.05)
        y0 = inset + int(h * 0.22)
    rows = text.split("/")
    row_h = (y1 - y0) / len(rows)
    text_color = _jitter(style.text_color, rng, 8)
    emblem_color = text_color if rng.random() < 0.3 else EMBLEM_COLORS[int(rng.integers(len(EMBLEM_COLORS)))]
    for i, row in enumerate(rows):
        top = int(y0 + i * row_h + row_h * 0.04)
        _draw_text(plate, row, (x0, top, x1, int(top + row_h * 0.92)), text_color, font, cjk,
                   spacing=rng.uniform(0.02, 0.12), squeeze=rng.uniform(0.75, 1.0), rng=rng, emblem_color=emblem_color)
    return plate


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Car paint / bumper behind the plate: mostly greys and muted colours, with smooth light blotches."""
    base = np.clip(rng.uniform(15, 235) + rng.normal(0, 25, 3), 0, 255).astype(np.float32)
    grid = rng.normal(0, rng.uniform(3, 25), (4, 4)).astype(np.float32)
    blotches = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    return np.asarray(base + blotches, dtype=np.float32)


def _place(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Perspective (yaw/pitch), rotation within ±8° and a random margin of context, like a detector crop."""
    h, w = plate.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    yaw, pitch = rng.uniform(-0.15, 0.15) * h, rng.uniform(-0.08, 0.08) * w
    right, left, top, bottom = max(yaw, 0), max(-yaw, 0), max(pitch, 0), max(-pitch, 0)  # the side that recedes
    dst = src + np.array([[top, left], [-top, right], [-bottom, -right], [bottom, -left]], dtype=np.float32)
    dst += (rng.uniform(-0.02, 0.02, (4, 2)) * np.array([w, h])).astype(np.float32)
    rotation = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-8, 8), 1.0), [0, 0, 1]])
    matrix = rotation @ cv2.getPerspectiveTransform(src, dst)
    corners = cv2.perspectiveTransform(src[None], matrix)[0]
    (xmin, ymin), (xmax, ymax) = corners.min(axis=0), corners.max(axis=0)
    margin_l, margin_r = rng.uniform(0.0, 0.1, 2) * (xmax - xmin)
    margin_t, margin_b = rng.uniform(0.03, 0.3, 2) * (ymax - ymin)
    shift = np.array([[1, 0, margin_l - xmin], [0, 1, margin_t - ymin], [0, 0, 1]])
    size = (int(np.ceil(xmax - xmin + margin_l + margin_r)), int(np.ceil(ymax - ymin + margin_t + margin_b)))
    warped = cv2.warpPerspective(plate.astype(np.float32), shift @ matrix, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, w), np.float32), shift @ matrix, size, flags=cv2.INTER_LINEAR)[..., None]
    return np.asarray(warped * alpha + _background(rng, size[1], size[0]) * (1 - alpha), dtype=np.float32)


def _light(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light (gradient, a hard shadow edge), then global contrast, brightness and a colour cast."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.6:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = xs * np.cos(angle) / w + ys * np.sin(angle) / h
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        image = image * (rng.uniform(0.5, 1.0) + rng.uniform(0.0, 0.4) * ramp)[..., None]
    if rng.random() < 0.3:
        px, py, angle = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, np.pi)
        side = ((xs - px) * np.sin(angle) - (ys - py) * np.cos(angle) > 0).astype(np.float32)
        side = cv2.GaussianBlur(side, (0, 0), rng.uniform(0.5, 4))
        image = image * (1 - rng.uniform(0.3, 0.6) * side)[..., None]
    image = (image - 128) * rng.uniform(0.6, 1.3) + 128 + rng.uniform(-40, 40)
    return np.asarray(image * rng.uniform(0.9, 1.1, 3).astype(np.float32), dtype=np.float32)


def _blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = rng.random()
    if kind < 0.35:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 2.0))
    if kind < 0.55:  # motion blur: a line kernel at a random angle
        length = int(rng.integers(3, 10))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1
        turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
        line = cv2.warpAffine(kernel, turn, (length, length))
        return cv2.filter2D(image, -1, (line / max(float(line.sum()), 1e-6)).astype(np.float32))
    return image


def _camera(image: np.ndarray, rng: np.random.Generator, min_height: int = 24) -> np.ndarray:
    """Scale to the output size (min_height-120 px high), then sensor noise and JPEG compression at that size."""
    h, w = image.shape[:2]
    out_h = int(rng.integers(min_height, 121))
    out_w = max(8, round(w * out_h / h))
    if rng.random() < 0.2 and out_h > 30:  # seen at even lower resolution and upscaled by the pipeline
        f = rng.uniform(max(0.4, 24 / out_h), 0.8)
        image = cv2.resize(image, (max(4, int(out_w * f)), max(4, int(out_h * f))), interpolation=cv2.INTER_AREA)
    image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA if out_h < h else cv2.INTER_LINEAR)
    if rng.random() < 0.7:
        image = image + rng.normal(0, rng.uniform(1, 10), image.shape).astype(np.float32)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.8:
        ok, encoded = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 96))])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = np.ascontiguousarray(decoded[..., ::-1])
    return out


def render_plate(rng: np.random.Generator, style: str | None = None) -> SyntheticPlate:
    """One degraded plate crop of the given style (a random one when None)."""
    name = style if style is not None else sorted(STYLES)[int(rng.integers(len(STYLES)))]
    if name not in STYLES:
        raise ValueError(f"unknown plate style {name!r}; known: {', '.join(sorted(STYLES))}")
    fonts, cjk = find_fonts(), find_cjk_font()
    if not fonts:
        raise RuntimeError("no bold TrueType font found (install fonts-dejavu-core or matplotlib)")
    font = fonts[0] if rng.random() < 0.5 else fonts[int(rng.integers(len(fonts)))]  # condensed first, some variety
    drawn, label = generate_text(STYLES[name], rng, with_province=cjk is not None)
    clean = np.asarray(draw_plate(STYLES[name], drawn, rng, font, cjk), dtype=np.float32)
    # two-line plates get taller crops so that each row keeps as many pixels as a one-line plate's characters
    min_height = 24 * STYLES[name].lines
    image = _camera(_blur(_light(_place(clean, rng), rng), rng), rng, min_height)
    return SyntheticPlate(image, label, name)


def iter_plates(n: int, seed: int | tuple[int, int], styles: list[str] | None = None) -> Iterator[SyntheticPlate]:
    rng = np.random.default_rng(seed)
    names = styles or sorted(STYLES)
    for _ in range(n):
        yield render_plate(rng, names[int(rng.integers(len(names)))])


def render_many(n: int, seed: int, styles: list[str] | None = None) -> list[SyntheticPlate]:
    """n plates, styles drawn uniformly from styles (all when None); the same seed gives the same plates."""
    return list(iter_plates(n, seed, styles))


def write_plates(folder: Path, first: int, n: int, seed: int | tuple[int, int],
                 styles: list[str] | None) -> list[tuple[str, str, str]]:
    """Render n plates into folder as synth_<seed>_<index>.jpg from index `first`; their labels.csv rows."""
    rows = []
    tag = seed if isinstance(seed, int) else seed[0]
    for i, plate in enumerate(iter_plates(n, seed, styles), start=first):
        name = f"synth_{tag}_{i:06d}.jpg"
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(plate.image, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise RuntimeError(f"could not encode {name}")
        (folder / name).write_bytes(encoded.tobytes())  # not cv2.imwrite: it fails on some non-ASCII paths
        rows.append((name, plate.text, plate.region))
    return rows


def write_dataset(folder: Path, n: int, seed: int, styles: list[str] | None = None, workers: int = 1) -> Path:
    """JPEGs plus labels.csv (file,text,region) as in plates-ocr, readable by training.datasets.read_ocr_set.

    With workers > 1, each of `workers` processes renders its share from the seed (seed, share): a GPU box
    renders tens of thousands of plates in seconds. The same seed and workers give the same plates.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if workers <= 1:
        rows = write_plates(folder, 0, n, seed, styles)
    else:
        size = -(-n // workers)
        jobs = [(folder, k * size, min(size, n - k * size), (seed, k), styles) for k in range(workers) if k * size < n]
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            rows = [row for part in pool.starmap(write_plates, jobs) for row in part]
    labels = folder / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "region"])
        writer.writerows(rows)
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--styles", default="", help=f"comma-separated subset of: {','.join(sorted(STYLES))}")
    args = parser.parse_args(argv)
    styles = [s.strip() for s in args.styles.split(",") if s.strip()] or None
    unknown = sorted(set(styles or []) - set(STYLES))
    if unknown:
        parser.error(f"unknown style(s) {', '.join(unknown)}; known: {', '.join(sorted(STYLES))}")
    if args.count < 1:
        parser.error("--count must be at least 1")
    print(write_dataset(args.out_dir, args.count, args.seed, styles))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
