"""PlateReader: the core that composes the stages; CLI, gateway and workers all call it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from engines import Engine, ModelKind, check_kind, create_engine, onnx_device
from pipeline.crop import CropMargins, crop_plate
from pipeline.dedupe import drop_duplicates
from pipeline.detect import DetectorConfig, detect
from pipeline.errors import FormatConfigError
from pipeline.formats import DEFAULT_REGIONS_FILE, Region, load_regions
from pipeline.postprocess import PostprocessConfig, TemplatePolicy, candidates_for, template_verdict
from pipeline.recognize import Recognizer, RecognizerConfig, optional_engine
from pipeline.records import Frame, FrameResult, PlateCrop, PlateRead, RawText


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Seconds spent per stage on one batch, for metrics."""

    detect_s: float
    recognize_s: float


@dataclass(frozen=True)
class ReaderConfig:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    crop_margins: CropMargins = field(default_factory=CropMargins)
    regions: tuple[str, ...] = ("generic",)
    regions_file: Path = DEFAULT_REGIONS_FILE
    keep_crops: bool = False  # workers store crops; the CLI does not need them
    template_policy: TemplatePolicy = "off"  # reads fitting no template: kept (off), flagged or dropped


def merge_regions(names: tuple[str, ...], known: dict[str, Region]) -> Region:
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise FormatConfigError(f"unknown region(s) {', '.join(unknown) or '(none)'}; known: {', '.join(known)}")
    chosen = [known[n] for n in names]
    return Region(
        name="+".join(names),
        templates=tuple(t for r in chosen for t in r.templates),
        min_length=min(r.min_length for r in chosen),
        max_length=max(r.max_length for r in chosen),
        # a look-alike is folded only where every chosen region reports it so: `us,br` keeps Brazil's letter O
        same_as=tuple(pair for pair in chosen[0].same_as if all(pair in r.same_as for r in chosen[1:])),
    )


class PlateReader:
    def __init__(self, detector: Engine, recognizer: Engine, config: ReaderConfig | None = None,
                 glyphs: Engine | None = None, second: Engine | None = None) -> None:
        self.config = config or ReaderConfig()
        self.detector = check_kind(detector, ModelKind.DETECTOR)
        self.recognizer = Recognizer(recognizer, self.config.recognizer, glyphs=glyphs, second=second)
        self.region = merge_regions(self.config.regions, load_regions(self.config.regions_file))

    @classmethod
    def from_files(
        cls, detector: Path, recognizer: Path, config: ReaderConfig | None = None, device: str = "cpu",
        threads: int = 0, glyphs: Path | None = None, second: Path | None = None,
    ) -> PlateReader:
        """`glyphs`: the glyph check's classifier (pipeline.glyphs); `second`: the second reader
        (pipeline.recognize); None = without it."""
        return cls(create_engine(detector, device, threads), create_engine(recognizer, device, threads), config,
                   optional_engine(glyphs, device, threads), optional_engine(second, onnx_device(device), threads))

    def read(self, frames: list[Frame]) -> list[FrameResult]:
        return self.read_timed(frames)[0]

    def read_timed(self, frames: list[Frame], quick: bool = False) -> tuple[list[FrameResult], StageTimes]:
        """Detect in all frames at once, recognize all their crops at once, then apply format rules. `quick`:
        no other views and no second reader (Recognizer.read), for a worker that has fallen behind."""
        started = time.perf_counter()
        detections = detect(frames, self.detector, self.config.detector)
        detected = time.perf_counter()
        margins = self.config.crop_margins
        crops = [[crop_plate(f, d, margins) for d in ds] for f, ds in zip(frames, detections, strict=True)]
        plate_reads = iter(self.read_crops([c for per_frame in crops for c in per_frame], quick))
        finished = time.perf_counter()
        elapsed_ms = (finished - started) * 1000 / max(len(frames), 1)  # batch time, shared out
        results = []
        for frame, frame_crops in zip(frames, crops, strict=True):
            reads = drop_duplicates([r for _ in frame_crops if (r := next(plate_reads)) is not None])
            results.append(FrameResult(frame.source, frame.width, frame.height, reads, round(elapsed_ms, 2)))
        return results, StageTimes(detect_s=detected - started, recognize_s=finished - detected)

    def read_crops(self, crops: list[PlateCrop], quick: bool = False) -> list[PlateRead | None]:
        """Plate crops recognized at once and put through the format rules; None where nothing is reported."""
        return [self._plate_read(c, raw) for c, raw in zip(crops, self.recognizer.read(crops, quick), strict=True)]

    def _plate_read(self, crop: PlateCrop, raw: RawText) -> PlateRead | None:
        candidates = candidates_for(raw, self.region, self.config.postprocess)
        if not candidates:
            return None
        top = candidates[0]  # template fits rank first: if the best one does not fit, none does
        report, verdict = template_verdict(top, self.region, self.config.template_policy)
        if not report:
            return None
        return PlateRead(
            detection=crop.detection,
            box=crop.box,
            plate=top.plate,
            confidence=top.confidence,
            candidates=candidates,
            region=self.region.name,
            matches_template=top.matches_template,
            template_verdict=verdict,
            crop=crop.image if self.config.keep_crops else None,
        )
