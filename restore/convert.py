"""Meeting users where they are: PIL images, numpy arrays and tensors in, the same type out.

:func:`to_tensor` turns any supported input into ``(B, C, H, W)`` float32 in ``[0, 1]`` (colour
planes) plus the alpha plane, and returns a :class:`Restorer` that turns a result back into the
input's type, depth and mode. Pipelines (:mod:`restore.pipelines`) use it at their boundary, and any
layer beneath them may (mask loading in :mod:`restore.inpainting.masks` does): it imports only numpy,
torch and PIL.

Supported inputs:
    * PIL ``Image`` (L, LA, P, PA, RGB, RGBA, I;16, 1, CMYK) -> same mode back (P/PA come back RGB/RGBA).
    * numpy ``(H, W)`` or ``(H, W, C)`` with C in 1..4, dtype uint8, uint16 or float (taken as [0, 1]).
    * torch ``(B, C, H, W)`` or ``(C, H, W)`` float in [0, 1] (C = 1..4; the 4th channel is alpha).

Example:
    >>> import numpy as np
    >>> from restore.convert import to_tensor
    >>> arr = np.zeros((8, 6, 4), np.uint16)
    >>> x, alpha, back = to_tensor(arr)
    >>> x.shape, alpha.shape
    (torch.Size([1, 3, 8, 6]), torch.Size([1, 1, 8, 6]))
    >>> out = back(x, alpha)
    >>> out.dtype, out.shape
    (dtype('uint16'), (8, 6, 4))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import RestoreError


@dataclass
class Restorer:
    """Turns ``(B, C, H, W)`` colour (+ optional ``(B, 1, H, W)`` alpha) in [0, 1] back to the input's type."""

    kind: str  # "pil", "numpy" or "tensor"
    dtype: Any = None
    mode: str | None = None
    squeeze_batch: bool = False
    squeeze_channel: bool = False  # numpy (H, W) input

    def __call__(self, colour: torch.Tensor, alpha: torch.Tensor | None = None):
        colour = colour.clamp(0, 1)
        if self.kind == "tensor":
            out = colour if alpha is None else torch.cat([colour, alpha.clamp(0, 1)], 1)
            out = out.to(self.dtype)
            return out[0] if self.squeeze_batch else out
        planes = colour if alpha is None else torch.cat([colour, alpha.clamp(0, 1)], 1)
        hwc = planes[0].permute(1, 2, 0).float().cpu().numpy()
        if self.kind == "numpy":
            if np.issubdtype(self.dtype, np.integer):
                peak = np.iinfo(self.dtype).max
                hwc = np.round(hwc * peak).astype(self.dtype)
            else:
                hwc = hwc.astype(self.dtype)
            return hwc[..., 0] if self.squeeze_channel and hwc.shape[2] == 1 else hwc
        from PIL import Image

        if self.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
            return Image.fromarray(np.round(hwc[..., 0] * 65535).astype(np.uint16))
        arr = np.round(hwc * 255).astype(np.uint8)
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
        return Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr, mode=mode)


def _split_alpha(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    c = x.shape[1]
    if c in (1, 3):
        return x, None
    if c in (2, 4):
        return x[:, :-1], x[:, -1:]
    raise RestoreError(f"expected 1 to 4 channels, got {c}")


#: PIL modes taken as input; others (32-bit "I" and "F", "LAB", "HSV"...) have no [0, 1] meaning here.
PIL_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I;16", "I;16L", "I;16B", "I;16N")


def _checked(colour: torch.Tensor, alpha: torch.Tensor | None, restorer: Restorer):
    if colour.shape[-1] < 1 or colour.shape[-2] < 1 or colour.shape[0] < 1:
        raise RestoreError(f"the image is empty (shape {tuple(colour.shape)})")
    if not torch.isfinite(colour).all() or (alpha is not None and not torch.isfinite(alpha).all()):
        raise RestoreError("the image holds NaN or infinite values")
    return colour, alpha, restorer


def to_tensor(image) -> tuple[torch.Tensor, torch.Tensor | None, Restorer]:
    """``(colour (B, C, H, W) float32 in [0, 1], alpha (B, 1, H, W) or None, restorer)`` for any input.

    Raises RestoreError for empty images, NaN/inf values, integer tensors, unsupported numpy dtypes and
    PIL modes without a [0, 1] reading (32-bit "I", "F", "LAB", "HSV").
    """
    if torch.is_tensor(image):
        squeeze = image.dim() == 3
        x = image[None] if squeeze else image
        if x.dim() != 4:
            raise RestoreError(f"tensor input must be (B, C, H, W) or (C, H, W), got {tuple(image.shape)}")
        if not x.is_floating_point():
            raise RestoreError("tensor input must be float in [0, 1]")
        colour, alpha = _split_alpha(x.float())
        return _checked(colour, alpha, Restorer("tensor", dtype=image.dtype, squeeze_batch=squeeze))
    if isinstance(image, np.ndarray):
        arr = image
        squeeze_c = arr.ndim == 2
        if squeeze_c:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] > 4:
            raise RestoreError(f"numpy input must be (H, W) or (H, W, C) with C <= 4, got {image.shape}")
        if arr.dtype == np.uint8:
            f = arr.astype(np.float32) / 255.0
        elif arr.dtype == np.uint16:
            f = arr.astype(np.float32) / 65535.0
        elif np.issubdtype(arr.dtype, np.floating):
            f = arr.astype(np.float32)
        else:
            raise RestoreError(f"numpy input dtype must be uint8, uint16 or float, got {arr.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None]
        colour, alpha = _split_alpha(x)
        return _checked(colour, alpha, Restorer("numpy", dtype=arr.dtype, squeeze_channel=squeeze_c))
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        mode = image.mode
        if mode not in PIL_MODES:
            raise RestoreError(f"PIL images of mode {mode!r} are not supported (convert to RGB, L or I;16 first)")
        if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
            arr = np.asarray(image).astype(np.float32) / 65535.0
            x = torch.from_numpy(arr)[None, None]
            return _checked(x, None, Restorer("pil", mode=mode))
        has_alpha = mode in ("LA", "PA", "RGBA") or (mode == "P" and "transparency" in image.info)
        gray = mode in ("1", "L", "LA")
        target = ("LA" if has_alpha else "L") if gray else ("RGBA" if has_alpha else "RGB")
        arr = np.asarray(image.convert(target)).astype(np.float32) / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]
        colour, alpha = _split_alpha(x)
        return _checked(colour, alpha, Restorer("pil", mode=target))
    raise RestoreError(f"unsupported input type {type(image).__name__} (use a PIL image, numpy array or tensor)")
