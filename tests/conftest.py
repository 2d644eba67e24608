"""Shared fixtures: the real datasets in ../shared/datasets and the shipped engines."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from engines import Engine, create_engine
from pipeline.decode import decode_image
from pipeline.reader import PlateReader, ReaderConfig
from pipeline.records import Frame
from platestream.models import SHIPPED_MODELS

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("PLATESTREAM_DATASETS", ROOT.parent / "shared" / "datasets"))


def dataset(name: str) -> Path:
    path = DATASETS / name
    if not path.is_dir():
        pytest.fail(f"dataset {path} is missing: tests read the real data in ../shared/datasets")
    return path


def endtoend_rows(limit: int | None = None) -> list[dict[str, str]]:
    with (dataset("endtoend-us") / "labels.csv").open() as handle:
        return list(csv.DictReader(handle))[:limit]


def ocr_rows(region_prefix: str, limit: int) -> list[dict[str, str]]:
    with (dataset("plates-ocr") / "labels.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["region"].startswith(region_prefix)]
    return rows[:: max(1, len(rows) // limit)][:limit]  # spread over the set, not just its first files


@pytest.fixture(scope="session")
def endtoend_dir() -> Path:
    return dataset("endtoend-us")


@pytest.fixture(scope="session")
def ocr_dir() -> Path:
    return dataset("plates-ocr")


@pytest.fixture(scope="session")
def detect_dir() -> Path:
    return dataset("plates-detect")


@pytest.fixture(scope="session")
def detector() -> Engine:
    return create_engine(SHIPPED_MODELS / "detector.onnx")


@pytest.fixture(scope="session")
def recognizer() -> Engine:
    return create_engine(SHIPPED_MODELS / "recognizer.onnx")


@pytest.fixture(scope="session")
def reader(detector: Engine, recognizer: Engine) -> PlateReader:
    return PlateReader(detector, recognizer, ReaderConfig())


@pytest.fixture(scope="session")
def service_reader() -> PlateReader:
    """The reader a worker builds from default settings (INT8 detector on the CPU, where one is shipped)."""
    from platestream.commands.common import build_reader
    from platestream.settings import CoreSettings

    return build_reader(CoreSettings(_env_file=None))  # type: ignore[call-arg]


def load_frame(path: Path) -> Frame:
    return decode_image(path.read_bytes(), path.name)
