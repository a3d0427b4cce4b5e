"""User-facing errors.

A :class:`RestoreError` is a problem with what the user gave us (a file, a flag, a model name). The
command line prints its message as one line and exits non-zero, never with a traceback.
"""


class RestoreError(Exception):
    """A problem with the user's input, reported as one line (``restore: error: <message>``)."""


class ImageReadError(RestoreError):
    """An input image is missing, empty, truncated, not an image, unsupported or too large."""


class OutputExistsError(RestoreError):
    """An output path exists (and ``--overwrite`` was not given) or would replace an input."""
