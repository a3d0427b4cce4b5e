"""Host-side tiling: run a fully convolutional upscaler on an image of any size in bounded memory.

The image stays on the host (CPU); only the current tile goes to the device and its result comes
straight back into a host output buffer, so device memory depends on the tile size, not the image.

Geometry (all in input pixels):

* the image is cut into a grid of *cores* of ``tile`` x ``tile`` pixels (the last row/column smaller);
* each core is widened by ``overlap`` pixels on every side into its *blend region*, where
  neighbouring tiles overlap and are mixed with feathered (linear-ramp) weights;
* the blend region is widened again by ``pad`` pixels of *context* into the window the network
  actually sees. Everything is clipped at the image border, where the network sees exactly what
  the untiled pass sees.

When ``pad`` is at least the network's receptive radius (:func:`receptive_radius`; 40 input pixels
for a 16-block SRResNet at any scale), every pixel of a blend region is computed from the same
inputs as in the untiled pass, so the tiled result equals the untiled one up to float rounding
(tested: max abs difference < 1e-3) for *any* ``tile`` >= :data:`MIN_TILE`. With a smaller ``pad``
(faster, less context) the feathering hides the seams instead.

The feather weights of a regular grid are separable (a row profile times a column profile), so
they are normalised per axis up front and each tile adds its share directly into the output: no
weight-sum image is kept.

Example:
    >>> import torch
    >>> up = lambda t: torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest")
    >>> x = torch.rand(1, 3, 50, 70)
    >>> out = tiled_apply(up, x, scale=2, tile=16, pad=0)
    >>> out.shape, bool((out - up(x)).abs().max() < 1e-6)
    (torch.Size([1, 3, 100, 140]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

#: Smallest core size accepted (input pixels). Tiled == untiled holds for any tile >= this when
#: ``pad >= receptive_radius(model)``; the floor only keeps the per-tile overhead sane.
MIN_TILE = 16
#: Default feather width (input pixels) on each side of a core.
DEFAULT_OVERLAP = 8


def receptive_radius(model: nn.Module) -> int:
    """How many input pixels on each side can influence one output pixel (rounded up).

    Walks the convolutions in definition order, assuming they form one chain (true for SRResNet:
    the residual skips only shorten paths), and converts each kernel's reach back to input pixels
    through the ``PixelShuffle`` upsamplings met so far. 16-block SRResNet: 4 + 16*2 + 1 + 1 + 1/2
    + 4/4 = 39.5 -> 40.
    """
    if isinstance(getattr(model, "receptive_radius", None), int):  # fixed-kernel upscalers say it themselves
        return model.receptive_radius
    reach, resolution = 0.0, 1.0
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0]
            reach += (k - 1) // 2 * module.dilation[0] / resolution
            resolution /= module.stride[0]
        elif isinstance(module, nn.PixelShuffle):
            resolution *= module.upscale_factor
        elif isinstance(module, nn.Upsample) and module.scale_factor:
            resolution *= float(module.scale_factor)
    return int(math.ceil(reach))


def _spans(length: int, tile: int, overlap: int, pad: int) -> list[tuple[int, int, int, int, int, int]]:
    """Per tile along one axis: (core0, core1, blend0, blend1, window0, window1), clipped to [0, length)."""
    spans = []
    for core0 in range(0, length, tile):
        core1 = min(core0 + tile, length)
        blend0, blend1 = max(core0 - overlap, 0), min(core1 + overlap, length)
        spans.append((core0, core1, blend0, blend1, max(blend0 - pad, 0), min(blend1 + pad, length)))
    return spans


def _feather(spans, length: int, overlap: int, scale: int) -> list[torch.Tensor]:
    """Per tile: its weights over its blend region in output pixels, normalised so all tiles sum to 1."""
    raw, total = [], torch.zeros(length * scale, dtype=torch.float64)
    for core0, core1, blend0, blend1, _, _ in spans:
        pos = torch.arange(blend0 * scale, blend1 * scale, dtype=torch.float64) + 0.5
        # Distance outside the core in input pixels: 0 inside, up to `overlap` at the blend edge.
        outside = torch.clamp(torch.maximum(core0 * scale - pos, pos - core1 * scale), min=0) / scale
        w = 1.0 - outside / (overlap + 1)  # linear ramp, still > 0 at the blend edge
        raw.append(w)
        total[blend0 * scale:blend1 * scale] += w
    return [(w / total[s[2] * scale:s[3] * scale]).float() for w, s in zip(raw, spans)]


def tiled_apply(fn: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, *, scale: int,
                tile: int, pad: int, overlap: int = DEFAULT_OVERLAP,
                out: torch.Tensor | None = None, on_tile: Callable[[], None] | None = None) -> torch.Tensor:
    """Upscale ``image`` by ``scale`` tile by tile with ``fn``, blending overlaps; returns the host result.

    Args:
        fn: maps a ``(1, C, h, w)`` host tensor to ``(1, C', scale*h, scale*w)`` (moving it to its
            device and back is ``fn``'s job, so only one tile is on the device at a time).
        image: ``(1, C, H, W)`` on the host.
        scale: the integer factor ``fn`` applies.
        tile: core size in input pixels (>= :data:`MIN_TILE`); a tile as large as the image means one pass.
        pad: context pixels around each blend region; >= :func:`receptive_radius` makes the result exact.
        overlap: feather width in input pixels.
        out: optional preallocated ``(1, C', scale*H, scale*W)`` float32 host buffer.
        on_tile: called after each tile (a progress bar over :func:`tile_count` tiles).

    Returns:
        ``(1, C', scale*H, scale*W)`` float32 on the host.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"tiled_apply takes one image (1, C, H, W), got {tuple(image.shape)}")
    if tile < MIN_TILE:
        raise ValueError(f"tile must be at least {MIN_TILE} pixels, got {tile}")
    _, _, height, width = image.shape
    rows, cols = _spans(height, tile, overlap, pad), _spans(width, tile, overlap, pad)
    row_w, col_w = _feather(rows, height, overlap, scale), _feather(cols, width, overlap, scale)
    for r, (_, _, b0, b1, w0, w1) in enumerate(rows):
        for c, (_, _, bx0, bx1, wx0, wx1) in enumerate(cols):
            result = fn(image[:, :, w0:w1, wx0:wx1]).float().cpu()
            if out is None:
                out = torch.zeros(1, result.shape[1], height * scale, width * scale)
            # Keep only the blend region of this tile's output, weighted by its feather.
            crop = result[:, :, (b0 - w0) * scale:(b1 - w0) * scale, (bx0 - wx0) * scale:(bx1 - wx0) * scale]
            weight = row_w[r].view(-1, 1) * col_w[c].view(1, -1)
            out[:, :, b0 * scale:b1 * scale, bx0 * scale:bx1 * scale].add_(crop * weight)
            if on_tile is not None:
                on_tile()
    return out


def tile_count(height: int, width: int, tile: int) -> int:
    """How many tiles :func:`tiled_apply` runs for an ``height`` x ``width`` image."""
    return math.ceil(height / tile) * math.ceil(width / tile)
