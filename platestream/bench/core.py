"""`platestream bench core DIR`: speed of the recognition core per engine variant x batch size x threads.

Each image is decoded from bytes already in memory (so disk speed is not measured), then read by
PlateReader.read_timed, whose StageTimes split detect from crop+recognize; post-processing (format rules,
candidates) is the rest of read_timed's wall time. Per-image latency is a batch's wall time shared out over
its images, as FrameResult.processing_time_ms is: with batches, an image waits for its whole batch.

With `streams` > 1, that many batches are read at once from threads sharing one PlateReader (ONNX Runtime
and PyTorch release the GIL while they compute), as a worker process with several worker tasks does; with one
engine thread per stream this keeps every core busy without the poor scaling of one model over many threads.
Images/s is then images over the elapsed time; stage columns stay per-image means within a stream.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.errors import EngineError
from pipeline.decode import decode_image
from pipeline.errors import ImageError
from pipeline.reader import PlateReader
from platestream.bench.report import machine_info, percentile, rounded, table
from platestream.settings import CoreSettings

ENGINE_VARIANTS = ("onnxruntime", "onnxruntime-int8", "torch")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
RUNTIME_PACKAGE = {".onnx": "onnxruntime", ".pt": "torch"}


@dataclass(frozen=True)
class Variant:
    name: str
    detector: Path
    recognizer: Path
    note: str = ""


@dataclass(frozen=True)
class CoreOptions:
    folder: Path
    engines: tuple[str, ...] = ENGINE_VARIANTS
    batches: tuple[int, ...] = (1, 4, 8)
    threads: tuple[int, ...] = (1,)
    streams: tuple[int, ...] = (1,)
    limit: int | None = None
    warmup: int = 2
    models: Path | None = None  # default: the folder of the configured detector (the shipped engines)


@dataclass
class Timing:
    """Totals over one pass of the images with one (variant, batch, threads)."""

    images: int = 0
    reads: int = 0
    wall_s: float = 0.0  # start of the first batch to the end of the last (batches overlap with streams > 1)
    decode_s: float = 0.0
    detect_s: float = 0.0
    recognize_s: float = 0.0
    post_s: float = 0.0
    per_image_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def resolve_variant(name: str, models: Path) -> Variant | str:
    """The engine files of a variant, or the reason it cannot run here."""
    note = ""
    if name == "onnxruntime":
        files = (models / "detector.onnx", models / "recognizer.onnx")
    elif name == "onnxruntime-int8":
        # Each INT8 file where one exists (the detector is shipped quantized; the recognizer is not, as its
        # dynamic quantization was slower here): the note says which part stayed FP32.
        chosen = {kind: models / f"{kind}.int8.onnx" for kind in ("detector", "recognizer")}
        fp32 = [kind for kind, path in chosen.items() if not path.is_file()]
        chosen.update({kind: models / f"{kind}.onnx" for kind in fp32})
        files = (chosen["detector"], chosen["recognizer"])
        note = f"FP32 {' and '.join(fp32)} (no INT8 file)" if fp32 else ""
    elif name == "torch":
        files = (models / "detector.pt", models / "recognizer.pt")
    else:
        return f"unknown engine variant (known: {', '.join(ENGINE_VARIANTS)})"
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        return f"missing {', '.join(missing)} in {models}"
    packages = {RUNTIME_PACKAGE[f.suffix] for f in files}
    absent = sorted(p for p in packages if importlib.util.find_spec(p) is None)
    if absent:
        return f"runtime package(s) not installed: {', '.join(absent)}"
    return Variant(name, files[0], files[1], note)


def load_images(folder: Path, limit: int | None, max_pixels: int) -> tuple[list[tuple[str, bytes]], int]:
    """(name, bytes) of the first `limit` decodable images, and how many bad files were skipped."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    images: list[tuple[str, bytes]] = []
    bad = 0
    for path in paths:
        if limit is not None and len(images) >= limit:
            break
        data = path.read_bytes()
        try:
            decode_image(data, path.name, max_pixels)  # a bad file would fail the whole batch it lands in
        except ImageError:
            bad += 1
            continue
        images.append((path.name, data))
    return images, bad


def chunks(images: list[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    for start in range(0, len(images), size):
        yield images[start : start + size]


def time_batch(reader: PlateReader, chunk: list[tuple[str, bytes]], max_pixels: int, timing: Timing) -> None:
    started = time.perf_counter()
    frames = [decode_image(data, name, max_pixels) for name, data in chunk]
    decoded = time.perf_counter()
    results, stages = reader.read_timed(frames)
    finished = time.perf_counter()
    with timing.lock:
        add_batch(timing, chunk, results, stages, started, decoded, finished)


def add_batch(timing: Timing, chunk: list[tuple[str, bytes]], results: list[Any], stages: Any,
              started: float, decoded: float, finished: float) -> None:
    timing.images += len(chunk)
    timing.reads += sum(len(r.reads) for r in results)
    timing.decode_s += decoded - started
    timing.detect_s += stages.detect_s
    timing.recognize_s += stages.recognize_s
    timing.post_s += max(0.0, finished - decoded - stages.detect_s - stages.recognize_s)
    timing.per_image_ms.extend([(finished - started) * 1000 / len(chunk)] * len(chunk))


def measure(reader: PlateReader, images: list[tuple[str, bytes]], batch: int, warmup: int, max_pixels: int,
            streams: int = 1) -> Timing:
    with ThreadPoolExecutor(streams, thread_name_prefix="bench-stream") as pool:
        # Warm-up batches are not timed: the first runs allocate buffers and pick kernels for the batch shape.
        for _ in range(warmup):
            list(pool.map(lambda _: time_batch(reader, images[:batch], max_pixels, Timing()), range(streams)))
        timing = Timing()
        started = time.perf_counter()
        list(pool.map(lambda chunk: time_batch(reader, chunk, max_pixels, timing), chunks(images, batch)))
        timing.wall_s = time.perf_counter() - started
    return timing


def result_row(variant: Variant, batch: int, threads: int, streams: int, timing: Timing) -> dict[str, Any]:
    per_image = 1000 / max(timing.images, 1)
    return {
        "engine": variant.name,
        "detector": variant.detector.name,
        "recognizer": variant.recognizer.name,
        "batch": batch,
        "threads": threads,
        "streams": streams,
        "images": timing.images,
        "reads": timing.reads,
        "images_per_second": rounded(timing.images / timing.wall_s if timing.wall_s else None),
        "ms_per_image_p50": rounded(percentile(timing.per_image_ms, 50)),
        "ms_per_image_p95": rounded(percentile(timing.per_image_ms, 95)),
        "decode_ms": rounded(timing.decode_s * per_image),
        "detect_ms": rounded(timing.detect_s * per_image),
        "crop_recognize_ms": rounded(timing.recognize_s * per_image),
        "postprocess_ms": rounded(timing.post_s * per_image),
    }


def bench_variant(variant: Variant, options: CoreOptions, settings: CoreSettings,
                  images: list[tuple[str, bytes]]) -> Iterator[dict[str, Any]]:
    for threads in options.threads:
        # Engines fix their thread count when loaded (ORT session options, torch.set_num_threads): reload.
        with contextlib.redirect_stdout(sys.stderr):  # ultralytics prints a model summary: keep stdout the table
            reader = PlateReader.from_files(variant.detector, variant.recognizer, settings.reader_config(),
                                            settings.device, threads, settings.glyph_engine(),
                                            settings.second_reader_engine())
        for streams in options.streams:
            for batch in options.batches:
                timing = measure(reader, images, batch, options.warmup, settings.max_pixels, streams)
                row = result_row(variant, batch, threads, streams, timing)
                print(f"bench core: {variant.name} batch {batch} threads {threads} streams {streams}: "
                      f"{row['images_per_second'] or 0:.2f} images/s", file=sys.stderr, flush=True)
                yield row


def run_core(options: CoreOptions, settings: CoreSettings) -> dict[str, Any]:
    """Every variant x threads x batch; variants that cannot run are listed in `skipped`, never fatal."""
    images, bad = load_images(options.folder, options.limit, settings.max_pixels)
    models = options.models or settings.detector.parent
    # 0 means "all cores" to the engines; resolved here so the report says what was used.
    threads = tuple(dict.fromkeys(t or os.cpu_count() or 1 for t in options.threads))
    options = CoreOptions(options.folder, options.engines, options.batches, threads, options.streams,
                          options.limit, options.warmup, models)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    notes: list[dict[str, str]] = []
    for name in options.engines:
        variant = resolve_variant(name, models)
        if isinstance(variant, str):
            skipped.append({"engine": name, "reason": variant})
            continue
        if variant.note:
            notes.append({"engine": name, "note": variant.note})
        try:
            results.extend(bench_variant(variant, options, settings, images))
        except EngineError as exc:  # an unreadable or incompatible engine file: report it, go on
            skipped.append({"engine": name, "reason": str(exc)})
    return {
        "kind": "core",
        "folder": str(options.folder),
        "images": len(images),
        "skipped_bad_images": bad,
        "warmup_batches": options.warmup,
        "device": settings.device,
        "detector_imgsz": settings.detector_imgsz,
        "detector_extra_sizes": list(settings.detector_extra_sizes),
        "crop_margins": {"x": settings.crop_margin_x, "y": settings.crop_margin_y,
                         "second_y": settings.second_margin_y},
        "read_views": {"views": list(settings.read_views), "up_to": settings.read_views_up_to},
        "glyph_check": {"engine": str(settings.glyph_engine() or ""), "weight": settings.glyph_weight,
                        "recheck": settings.glyph_recheck},
        "second_reader": {"engine": str(settings.second_reader_engine() or ""), "weight": settings.second_weight},
        "machine": machine_info(),
        "options": {"engines": list(options.engines), "batch": list(options.batches), "threads": list(threads),
                    "streams": list(options.streams)},
        "results": results,
        "notes": notes,
        "skipped": skipped,
    }


CORE_COLUMNS = (
    ("engine", "engine"), ("batch", "batch"), ("threads", "thr"), ("streams", "str"), ("images_per_second", "img/s"),
    ("ms_per_image_p50", "p50 ms"), ("ms_per_image_p95", "p95 ms"), ("decode_ms", "decode"),
    ("detect_ms", "detect"), ("crop_recognize_ms", "crop+rec"), ("postprocess_ms", "post"), ("reads", "reads"),
)


def core_table(report: dict[str, Any]) -> str:
    rows = [[row[key] for key, _ in CORE_COLUMNS] for row in report["results"]]
    lines = [table([title for _, title in CORE_COLUMNS], rows),
             f"({report['images']} images; stage columns: mean ms per image)"]
    lines += [f"note: {n['engine']}: {n['note']}" for n in report["notes"]]
    lines += [f"skipped: {s['engine']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines)

