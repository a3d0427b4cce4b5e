"""The SR degradation: MATLAB ``imresize`` bicubic (antialiased), batched in torch, on any device.

This is the one degradation used everywhere in restore (training, validation, evaluation, benchmarks,
tests): the LR image of an HR image ``hr`` is ``degrade(hr, scale)``. It follows MATLAB's ``imresize``
exactly (Keys cubic kernel with a = -0.5, kernel widened by ``1/scale`` when shrinking so it
antialiases, mirrored borders, output size ``ceil(scale * size)``), which is how the SR literature's
LR benchmarks (Set5, Set14, BSD100, DIV2K "bicubic") were made.

Each axis is one matrix product with a precomputed ``(out, in)`` weight matrix, so a whole batch is
resized in two ``matmul``s on the GPU; the matrices are cached per size, device and dtype.

Example:
    >>> import torch
    >>> from restore.data.degradation import imresize, degrade
    >>> hr = torch.rand(2, 3, 96, 96)
    >>> degrade(hr, 4).shape
    torch.Size([2, 3, 24, 24])
    >>> imresize(hr, size=(50, 70)).shape
    torch.Size([2, 3, 50, 70])
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["imresize", "degrade", "resize", "cubic"]


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


@functools.lru_cache(maxsize=64)
def _weights_cpu(in_len: int, out_len: int, scale: float, antialias: bool) -> torch.Tensor:
    """Dense ``(out_len, in_len)`` float64 resampling matrix, as MATLAB's ``contributions``."""
    kernel_width = 4.0
    shrink = antialias and scale < 1
    if shrink:
        kernel_width /= scale
    # Output pixel u (1-based) sits at this input coordinate (1-based): pixel centres line up.
    u = torch.arange(1, out_len + 1, dtype=torch.float64) / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if shrink else cubic(dist)
    w = w / w.sum(1, keepdim=True)
    # Mirror out-of-range taps the way MATLAB does: [1..n, n..1] repeated.
    mirror = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
    src = mirror[torch.remainder(idx.long() - 1, 2 * in_len)]
    matrix = torch.zeros(out_len, in_len, dtype=torch.float64)
    matrix.scatter_add_(1, src, w)
    return matrix


@functools.lru_cache(maxsize=128)
def _weights(in_len: int, out_len: int, scale: float, antialias: bool, device: str,
             dtype: torch.dtype) -> torch.Tensor:
    return _weights_cpu(in_len, out_len, scale, antialias).to(device=device, dtype=dtype)


def imresize(x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None, *,
             antialias: bool = True) -> torch.Tensor:
    """Bicubic resize exactly as MATLAB's ``imresize(x, scale)`` / ``imresize(x, [h w])`` (float, no rounding).

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)`` float, any device; values are not clamped (bicubic
            overshoots slightly at edges, as MATLAB's does before its uint8 conversion).
        scale: factor applied to both sides (``0.25`` shrinks by 4); output ``ceil(scale * H)``.
        size: ``(height, width)`` instead of ``scale`` (each axis then uses its own factor).
        antialias: widen the kernel when shrinking (MATLAB's default).

    Returns:
        The resized tensor, same dtype (computed in float32 at least) and device.
    """
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale or size")
    squeeze = x.dim() == 3
    if squeeze:
        x = x[None]
    if x.dim() != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        scale_h, scale_w = out_h / h, out_w / w
    else:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scale_h = scale_w = float(scale)
        out_h, out_w = math.ceil(scale * h), math.ceil(scale * w)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"resizing {h}x{w} gives an empty image")
    compute = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    dev = str(x.device)
    wh = _weights(h, out_h, scale_h, antialias, dev, compute)
    ww = _weights(w, out_w, scale_w, antialias, dev, compute)
    y = torch.matmul(wh, torch.matmul(x.to(compute), ww.T))
    y = y.to(x.dtype)
    return y[0] if squeeze else y


def degrade(hr: torch.Tensor, scale: int, *, quantize: bool = True) -> torch.Tensor:
    """The LR image of ``hr``: MATLAB bicubic downscale by ``scale``, clamped to [0, 1].

    Args:
        hr: ``(B, C, H, W)`` float in [0, 1]; H and W must be multiples of ``scale``.
        scale: integer SR factor (2, 4, 8, ...).
        quantize: round to 8-bit levels, as benchmark LR images stored as PNG are.

    Returns:
        ``(B, C, H / scale, W / scale)`` in [0, 1].
    """
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not a multiple of the scale {scale} (crop it first)")
    lr = imresize(hr, 1.0 / scale).clamp_(0, 1)
    if quantize:
        lr = torch.round(lr * 255) / 255
    return lr


def resize(x: torch.Tensor, size: int | tuple[int, int], mode: str = "bicubic") -> torch.Tensor:
    """Antialiased resize of ``(B, C, H, W)`` in [0, 1] to ``size`` (an int for a square), clamped to [0, 1].

    For bringing results to an arbitrary output size (``--outscale``, inpainting crops). It uses
    ``F.interpolate(antialias=True)``, which streams over huge images; :func:`imresize` is the exact
    MATLAB degradation and builds dense per-axis weight matrices, too large for 16k-pixel outputs.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    return torch.nn.functional.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False).clamp_(0, 1)
