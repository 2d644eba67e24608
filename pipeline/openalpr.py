"""OpenALPR-compatible JSON for frame results, shared by the CLI and the HTTP API."""

from __future__ import annotations

import time
from typing import Any

from pipeline.errors import ImageError
from pipeline.records import FrameResult, PlateRead


def plate_json(read: PlateRead, index: int, top_n: int) -> dict[str, Any]:
    box = read.box
    corners = [(box.x1, box.y1), (box.x2, box.y1), (box.x2, box.y2), (box.x1, box.y2)]
    return {
        "plate": read.plate,
        "confidence": round(read.confidence, 2),
        "matches_template": int(read.matches_template),
        "plate_index": index,
        "region": read.region,
        "detection_confidence": round(read.detection.confidence * 100, 2),
        "box": box.as_xywh(),
        "coordinates": [{"x": round(x), "y": round(y)} for x, y in corners],
        "requested_topn": top_n,
        "candidates": [
            {"plate": c.plate, "confidence": round(c.confidence, 2), "matches_template": int(c.matches_template)}
            for c in read.candidates
        ],
    }


def result_json(result: FrameResult, top_n: int) -> dict[str, Any]:
    return {
        "version": 2,
        "data_type": "alpr_results",
        "epoch_time": int(time.time() * 1000),
        "file": result.source,
        "img_width": result.width,
        "img_height": result.height,
        "processing_time_ms": round(result.processing_time_ms, 2),
        "results": [plate_json(r, i, top_n) for i, r in enumerate(result.reads)],
    }


def error_json(source: str, error: ImageError | OSError) -> dict[str, Any]:
    code = error.code if isinstance(error, ImageError) else "unreadable_file"
    return {"version": 2, "data_type": "alpr_error", "file": source, "error": {"code": code, "message": str(error)}}
