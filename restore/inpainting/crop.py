"""Inpainting images of any size with a prior of fixed resolution.

A square around the hole, with context (``margin`` times the hole's larger side on every side), is
cut out, resized to the prior's resolution (antialiased), filled there, and the fill is brought back
to the crop's size -- through a super-resolution model when one of exactly the needed scale is
given, otherwise by an antialiased bicubic resize -- and placed back. Blending into the full image
is the caller's job (:func:`restore.inpainting.blending.poisson_blend`). A square that would leave
the image is padded (edge replicated); padded pixels count as hole, so they never act as context.

Example:
    >>> import torch
    >>> from restore.inpainting.crop import plan_crop
    >>> known = torch.ones(1, 1, 100, 200); known[..., 40:60, 90:110] = 0
    >>> plan_crop(known, resolution=32, margin=0.5)
    CropBox(top=30, left=80, size=40)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..data.degradation import resize
from .masks import hole_box

DEFAULT_MARGIN = 0.5


@dataclass
class CropBox:
    """A square ``size x size`` at ``(top, left)`` in the original image (may reach past its edges)."""

    top: int
    left: int
    size: int

    def as_dict(self) -> dict:
        return asdict(self)

    def contains(self, top: int, left: int, bottom: int, right: int) -> bool:
        """Whether the box ``[top, bottom) x [left, right)`` lies inside this square."""
        return (top >= self.top and left >= self.left and bottom <= self.top + self.size
                and right <= self.left + self.size)


def plan_crop(known: torch.Tensor, resolution: int, margin: float = DEFAULT_MARGIN) -> CropBox:
    """The square to inpaint for the hole of ``known`` ``(1, 1, H, W)``.

    Its side is the hole's larger side times ``1 + 2 * margin``, at least ``resolution`` (more native
    context when the image allows), at most the image's larger side; it is centred on the hole and
    shifted to stay inside the image where it fits.
    """
    h, w = known.shape[-2:]
    top, left, bottom, right = hole_box(known)
    extent = max(bottom - top, right - left)
    size = max(math.ceil(extent * (1 + 2 * margin)), min(resolution, max(h, w)))
    size = min(size, max(h, w))
    size = max(size, extent)
    cy, cx = (top + bottom) / 2, (left + right) / 2

    def place(centre: float, length: int) -> int:
        start = int(round(centre - size / 2))
        if size <= length:
            return min(max(start, 0), length - size)
        return (length - size) // 2  # centred, padded on both sides

    return CropBox(top=place(cy, h), left=place(cx, w), size=size)


def cut(image: torch.Tensor, box: CropBox, fill_value: float | None = None) -> torch.Tensor:
    """The ``(B, C, size, size)`` square of ``image``; past the edges the edge is replicated
    (or ``fill_value`` is used)."""
    h, w = image.shape[-2:]
    pad = (max(0, -box.left), max(0, box.left + box.size - w), max(0, -box.top), max(0, box.top + box.size - h))
    if any(pad):
        image = (F.pad(image, pad, value=fill_value) if fill_value is not None
                 else F.pad(image, pad, mode="replicate"))
    top, left = box.top + pad[2], box.left + pad[0]
    return image[..., top:top + box.size, left:left + box.size]


def paste(canvas: torch.Tensor, patch: torch.Tensor, box: CropBox) -> torch.Tensor:
    """``canvas`` with the in-image part of ``patch`` (the square at ``box``) written over it (a copy)."""
    h, w = canvas.shape[-2:]
    out = canvas.clone()
    y0, x0 = max(box.top, 0), max(box.left, 0)
    y1, x1 = min(box.top + box.size, h), min(box.left + box.size, w)
    out[..., y0:y1, x0:x1] = patch[..., y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left]
    return out


def resize_known(known: torch.Tensor, size: int) -> torch.Tensor:
    """The known map at ``size``: known only where every source pixel is known (holes never shrink);
    when that leaves nothing known (scattered pixel masks), where most are known."""
    if tuple(known.shape[-2:]) == (size, size):
        return known
    soft = F.interpolate(known.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    strict = (soft > 0.999).float()
    return strict if bool(strict.any()) else (soft > 0.5).float()


def fill_any_size(target: torch.Tensor, known: torch.Tensor, fill_fn: Callable, resolution: int, *,
                  margin: float = DEFAULT_MARGIN, upscalers: dict[int, Callable] | None = None,
                  box: CropBox | None = None) -> tuple[torch.Tensor, dict]:
    """Run ``fill_fn`` at ``resolution`` for one image of any size.

    Args:
        target: ``(1, C, H, W)`` in [0, 1].
        known: ``(1, 1, H, W)`` (1 = known).
        fill_fn: ``(y (1, C, r, r), known (1, 1, r, r)) -> fill (1, C, r, r)`` at the prior's resolution.
        resolution: the prior's side ``r``.
        margin: context around the hole, as a fraction of the hole's larger side.
        upscalers: ``{scale: sr_fn}`` super-resolution functions ``(1, C, r, r) -> (1, C, r*s, r*s)``;
            a crop larger than ``r`` comes back through :func:`sr_scale_for`'s scale, then an antialiased
            resize to its side (without upscalers: bicubic).
        box: the square to fill (e.g. a detected face framed as the prior's training crops); ``None``:
            :func:`plan_crop` around the hole.

    Returns:
        ``(fill (1, C, H, W) meaningful inside the hole, info)``; ``info["crop"]`` is the crop used
        (``None`` when the image already had the prior's size), ``info["upscale"]`` how the fill came back.
    """
    h, w = target.shape[-2:]
    if box is None and (h, w) == (resolution, resolution):
        return fill_fn(target, known), {"crop": None, "upscale": None}
    box = box or plan_crop(known, resolution, margin)
    crop_y = cut(target, box)
    crop_known = cut(known, box, fill_value=0.0)
    small = fill_fn(resize(crop_y, resolution, "bilinear"), resize_known(crop_known, resolution))
    scale = sr_scale_for(box.size, resolution, upscalers or {})
    if scale is None:
        back, how = resize(small, box.size), "bicubic"
    else:  # SR to the first shipped scale that reaches the crop, then an antialiased resize to its exact side
        up = upscalers[scale](small).clamp(0, 1)
        back = resize(up, box.size)
        how = f"sr-x{scale}" if box.size == scale * resolution else f"sr-x{scale}, resized {up.shape[-1]}->{box.size}"
    return paste(target, back, box), {"crop": box.as_dict(), "upscale": how}


def sr_scale_for(side: int, resolution: int, upscalers: dict[int, Callable]) -> int | None:
    """The SR scale that brings a ``resolution`` fill back to a ``side``-pixel crop: the smallest one whose
    output reaches ``side`` (the largest when none does); ``None`` when the crop is no larger than the fill
    or there are no upscalers (then plain resizing does it).

    Example:
        >>> sr_scale_for(200, 64, {2: None, 4: None}), sr_scale_for(100, 64, {2: None, 4: None})
        (4, 2)
        >>> sr_scale_for(64, 64, {2: None}), sr_scale_for(900, 64, {2: None, 4: None}), sr_scale_for(200, 64, {})
        (None, 4, None)
    """
    if side <= resolution or not upscalers:
        return None
    reaching = [s for s in sorted(upscalers) if s * resolution >= side]
    return reaching[0] if reaching else max(upscalers)
