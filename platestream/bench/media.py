"""Test videos made from real frames, for the service benchmark and the service tests."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import platestream

# The repository's sibling `shared/datasets`, as the tests use; PLATESTREAM_DATASETS points elsewhere.
DEFAULT_DATASETS = Path(platestream.__file__).resolve().parents[2] / "shared" / "datasets"
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-gi lives here, not in the virtualenv


def datasets_dir() -> Path:
    return Path(os.environ.get("PLATESTREAM_DATASETS", DEFAULT_DATASETS))


def endtoend_labels(folder: Path, limit: int | None = None) -> list[dict[str, str]]:
    with (folder / "labels.csv").open() as handle:
        return list(csv.DictReader(handle))[:limit]


def make_cars_video(
    out: Path, count: int = 6, seconds_each: int = 2, fps: int = 10, dataset: Path | None = None, repeat: int = 1
) -> tuple[Path, list[str]]:
    """An H.264 MP4 made by ffmpeg from real endtoend-us frames, each car shown `seconds_each` seconds, the
    sequence `repeat` times (long runs keep cars changing, as at a gate, instead of one car for minutes).
    Returns the video and the labelled plates in order (one sequence)."""
    root = dataset or datasets_dir() / "endtoend-us"
    all_rows = endtoend_labels(root, 222)
    rows = [r for r in all_rows if r["file"].startswith("car")][:count] or all_rows[:count]
    frames = out.parent / f"{out.stem}-frames"
    frames.mkdir(parents=True, exist_ok=True)
    scale = "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2"
    for i, row in enumerate(rows):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(root / row["file"]), "-vf", scale,
                        str(frames / f"f{i:04d}.jpg")], check=True)
    for i in range(len(rows), len(rows) * max(1, repeat)):
        shutil.copyfile(frames / f"f{i % len(rows):04d}.jpg", frames / f"f{i:04d}.jpg")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-framerate", f"1/{seconds_each}", "-i",
                    str(frames / "f%04d.jpg"), "-vf", f"fps={fps},format=yuv420p", "-c:v", "libx264",
                    "-g", str(fps), str(out)], check=True)
    return out, [r["plate"] for r in rows]


def rtsp_server_command(port: int, mount: str, video: Path) -> list[str]:
    """The command line of a real RTSP camera playing `video` at rtsp://127.0.0.1:PORT/MOUNT."""
    return [SYSTEM_PYTHON, str(RTSP_SERVER), str(port), mount, str(video)]
