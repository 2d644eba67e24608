"""Synchronous recognition of one posted image: `/v1/recognize` (plates) and `/v1/detect` (boxes only)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from gateway.deps import ReaderDep, ServicesDep
from gateway.uploads import read_limited
from pipeline.crop import plate_box
from pipeline.decode import decode_image
from pipeline.detect import detect
from pipeline.openalpr import result_json

router = APIRouter(prefix="/v1", tags=["recognize"])


@router.post("/recognize")
async def recognize(services: ServicesDep, reader: ReaderDep, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """The JSON of `platestream recognize` for the uploaded image."""
    data = await read_limited(file, services.settings.max_upload_bytes)
    frame = decode_image(data, file.filename or "upload", services.settings.max_pixels)
    result = (await asyncio.to_thread(reader.read, [frame]))[0]
    return result_json(result, services.settings.top_n)


@router.post("/detect")
async def detect_plates(
    services: ServicesDep, reader: ReaderDep, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """Plate boxes only, without reading them: the same boxes `/v1/recognize` reports (the crop's region)."""
    data = await read_limited(file, services.settings.max_upload_bytes)
    frame = decode_image(data, file.filename or "upload", services.settings.max_pixels)
    found = await asyncio.to_thread(detect, [frame], reader.detector, reader.config.detector)
    margins = reader.config.crop_margins
    return {
        "file": frame.source, "img_width": frame.width, "img_height": frame.height,
        "detections": [{"box": plate_box(d.box, frame.width, frame.height, margins).as_xywh(),
                        "confidence": round(d.confidence * 100, 2)} for d in found[0]],
    }
