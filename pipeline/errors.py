"""Typed errors of the pipeline. Each image error has a stable `code` that CLI and HTTP answers carry."""


class PipelineError(Exception):
    code = "pipeline_error"


class ImageError(PipelineError):
    """An input that cannot be turned into a frame; the message says why in words a user understands."""

    code = "bad_image"


class EmptyImage(ImageError):
    code = "empty_file"


class NotAnImage(ImageError):
    code = "not_an_image"


class TruncatedImage(ImageError):
    code = "truncated_image"


class ImageTooLarge(ImageError):
    code = "image_too_large"


class FormatConfigError(PipelineError):
    """A plate format template or region file is invalid."""

    code = "bad_format_config"


class ReaderConfigError(PipelineError):
    """A reader setting names something that does not exist (a test-time view, say)."""

    code = "bad_reader_config"
