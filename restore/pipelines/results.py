"""What one pipeline call did, for callers who want more than the image.

``run()`` on :class:`restore.pipelines.inpainting.Inpainter` / ``AutoInpainter`` and on
:class:`restore.pipelines.super_resolution.SuperResolver` / ``AutoSuperResolver`` returns one of these;
``__call__`` returns only its ``image`` (the type it was given), as before.

Example:
    >>> import numpy as np
    >>> from restore.pipelines.inpainting import Inpainter
    >>> image = np.full((24, 24, 3), 90, np.uint8); mask = np.zeros((24, 24), np.uint8); mask[8:16, 8:16] = 255
    >>> result = Inpainter("telea").run(image, mask)
    >>> type(result.image).__name__, result.image.dtype, result.method, result.model, result.reason
    ('ndarray', dtype('uint8'), 'telea', None, None)
    >>> result.seconds >= 0, result.trace
    (True, {})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["InpaintResult", "SRResult"]


@dataclass
class InpaintResult:
    """An inpainting call's output and how it was made.

    Attributes:
        image: the output, in the type the call was given (a batch stays a batch).
        info: per image ``{"method", "model", "reason", "crop", "upscale", "seconds", ...}``: the method that
            ran and its prior (``None`` for a classical method), ``auto``'s reason (``None`` when the method
            was asked for), the crop taken and how it came back, the search's final ``loss`` and winning
            ``restart`` for a prior (the inpainter's ``last_info`` with method and model filled in).
        trace: per-step losses of the searches, as the inpainter's ``last_trace`` (empty for classical methods).
        seconds: wall time of the call (the inpainting itself, not the conversion of the input).
    """

    image: Any
    info: list[dict]
    trace: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def method(self) -> str:
        """The method that filled the (first) image; ``info[i]["method"]`` for each image of a batch."""
        return self.info[0]["method"]

    @property
    def model(self) -> str | None:
        """The prior that filled the (first) image, ``None`` for a classical method."""
        return self.info[0]["model"]

    @property
    def reason(self) -> str | None:
        """Why ``auto`` chose that method for the (first) image; ``None`` when the method was asked for."""
        return self.info[0]["reason"]


@dataclass
class SRResult:
    """A super-resolution call's output and how it was made.

    Attributes:
        image: the output, in the type the call was given.
        model: the model that upscaled it (registry name, file stem or ``bicubic`` / ``lanczos``).
        reason: why ``auto`` chose that model (``None`` when the model was asked for).
        seconds: wall time of the call (the upscaling itself, not the conversion of the input).
        stats: the resolver's counters of the (last) image: ``tiles``, ``fp32_retries``, ``oom_retries``, ``tile``.
        measures: what ``auto`` measured (``jpeg_quality``, ``blockiness``, ``noise_sigma``); empty otherwise.
    """

    image: Any
    model: str
    reason: str | None = None
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    measures: dict = field(default_factory=dict)
