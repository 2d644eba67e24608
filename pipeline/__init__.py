"""Pure stages over typed records: decode -> detect -> crop -> recognize -> post-process."""

from pipeline.errors import ImageError, PipelineError
from pipeline.reader import PlateReader, ReaderConfig
from pipeline.records import Box, Detection, Frame, FrameResult, PlateCandidate, PlateRead

__all__ = [
    "Box",
    "Detection",
    "Frame",
    "FrameResult",
    "ImageError",
    "PipelineError",
    "PlateCandidate",
    "PlateRead",
    "PlateReader",
    "ReaderConfig",
]
