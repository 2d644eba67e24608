"""`platestream bench core` and `bench service` run as a user runs them: a subprocess, real frames and engines."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from platestream.bench.procs import ephemeral_low, free_port
from tests.test_cli import platestream

CORE_ROW_KEYS = {
    "engine", "detector", "recognizer", "batch", "threads", "streams", "images", "reads", "images_per_second",
    "ms_per_image_p50", "ms_per_image_p95", "decode_ms", "detect_ms", "crop_recognize_ms", "postprocess_ms",
}


def test_bench_core_measures_every_stage(tmp_path: Path, endtoend_dir: Path) -> None:
    out = tmp_path / "core.json"
    done = platestream("bench", "core", endtoend_dir, "--limit", "3", "--batch", "1", "--threads", "1",
                       "--streams", "1,2", "--engines", "onnxruntime", "--warmup", "1", "--json", out)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["images"] == 3 and report["skipped"] == []
    assert report["read_views"] == {"views": ["plain", "wide"], "up_to": 98.0}  # the settings timed
    assert [r["streams"] for r in report["results"]] == [1, 2]
    for row in report["results"]:
        assert set(row) == CORE_ROW_KEYS
        assert (row["engine"], row["batch"], row["threads"], row["images"]) == ("onnxruntime", 1, 1, 3)
        for key in ("images_per_second", "ms_per_image_p50", "ms_per_image_p95", "decode_ms", "detect_ms",
                    "crop_recognize_ms", "postprocess_ms"):
            assert row[key] > 0, key
    # Streams read the same images: the same plates come out, whatever the order batches finish in.
    assert report["results"][0]["reads"] == report["results"][1]["reads"]
    assert "onnxruntime" in done.stdout and "img/s" in done.stdout


def test_bench_core_skips_missing_engines_with_a_note(tmp_path: Path, endtoend_dir: Path) -> None:
    done = platestream("bench", "core", endtoend_dir, "--limit", "1", "--models", tmp_path,
                       "--engines", "onnxruntime-int8,torch", "--json", tmp_path / "core.json")
    assert done.returncode == 1, done.stderr  # nothing measured, but no traceback
    report = json.loads((tmp_path / "core.json").read_text())
    assert report["results"] == []
    assert [s["engine"] for s in report["skipped"]] == ["onnxruntime-int8", "torch"]
    assert "skipped: torch: missing detector.pt, recognizer.pt" in done.stdout


@pytest.mark.slow
def test_bench_service_embedded_accounts_for_every_frame(tmp_path: Path) -> None:
    out = tmp_path / "service.json"
    done = platestream("bench", "service", "--cameras", "1", "--fps", "2", "--seconds", "8", "--mode", "embedded",
                       "--threads", "1", "--json", out)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {"mode", "cameras", "fps_per_camera", "workers", "seconds", "machine", "offered_fps", "sustained_fps",
            "latency_ms", "frames", "drained"} <= set(report)
    assert set(report["latency_ms"]) == {"source", "reads", "p50", "p95", "p99"}
    frames = report["frames"]
    assert set(frames) == {"published", "processed", "undecodable", "dropped", "still_queued", "lost", "read_quickly"}
    assert report["sustained_fps"] > 0 and frames["processed"] > 0
    assert 0 <= frames["read_quickly"] <= frames["processed"]
    assert frames["lost"] == 0, frames


def test_free_ports_stay_out_of_the_range_outgoing_connections_use() -> None:
    """A port the kernel picks can go to any outgoing connection before the server binds it (seen in CI:
    `address already in use` for a gateway); ports below the ephemeral range cannot."""
    ports = [free_port() for _ in range(20)]
    assert all(1024 <= p < ephemeral_low() for p in ports) and len(set(ports)) > 1
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[0]))  # and it is free
