"""Settings of the recognition core, read from PLATESTREAM_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.decode import DEFAULT_MAX_PIXELS
from pipeline.detect import DetectorConfig
from pipeline.formats import DEFAULT_REGIONS_FILE
from pipeline.postprocess import PostprocessConfig
from pipeline.reader import ReaderConfig
from pipeline.recognize import RecognizerConfig
from platestream.models import default_detector, default_recognizer


class CoreSettings(BaseSettings):
    """What `recognize`, `eval` and the workers need to build a PlateReader."""

    model_config = SettingsConfigDict(env_prefix="PLATESTREAM_", extra="ignore")

    detector: Path = Field(default_factory=default_detector, description="detector engine (.onnx, .pt, .engine)")
    recognizer: Path = Field(default_factory=default_recognizer, description="recognizer engine")
    device: str = Field("cpu", description="cpu, cuda or cuda:N")
    threads: int = Field(0, ge=0, description="CPU threads per engine; 0 = all cores")
    detector_imgsz: int = Field(960, ge=64, le=4096, multiple_of=32)
    detector_confidence: float = Field(0.25, ge=0.0, le=1.0)
    detector_iou: float = Field(0.5, ge=0.0, le=1.0)
    regions: str = Field("generic", description="comma-separated region names from the regions file")
    regions_file: Path = DEFAULT_REGIONS_FILE
    top_n: int = Field(10, ge=1, le=100)
    crop_margin: float = Field(0.08, ge=0.0, le=1.0)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, description="larger images are refused")
    max_batch: int = Field(8, ge=1, le=256, description="frames per detector forward pass")

    def reader_config(self, keep_crops: bool = False) -> ReaderConfig:
        return ReaderConfig(
            detector=DetectorConfig(self.detector_imgsz, self.detector_confidence, self.detector_iou),
            recognizer=RecognizerConfig(),
            postprocess=PostprocessConfig(top_n=self.top_n),
            crop_margin=self.crop_margin,
            regions=tuple(r.strip() for r in self.regions.split(",") if r.strip()),
            regions_file=self.regions_file,
            keep_crops=keep_crops,
        )
