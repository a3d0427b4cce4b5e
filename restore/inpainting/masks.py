"""Inpainting masks: the convention users know from IOPaint, turned into the paper's known-pixel map.

On disk (and for arrays / PIL images given to the API) a mask marks the **hole**: white / non-zero
pixels are to be filled. Gray, RGB and RGBA masks are accepted:

* gray / RGB: a pixel is a hole when its brightest channel is above 127 (so a red stroke counts too);
* RGBA: when the alpha plane is not fully opaque, the alpha plane is the mask (strokes painted on a
  transparent layer); a fully opaque RGBA mask is read by its colour as above.

The threshold is 127 on the 8-bit scale (``> 127`` is a hole), applied after a nearest-neighbour
resize when the mask is not the image's size; a mask of another aspect ratio is refused
(:func:`check_mask_size`), since stretching it would move the hole. ``invert=True`` reads black as the hole instead.

Internally every function returns the known-pixel map ``M`` of Yeh et al. (2017): a ``(1, 1, H, W)``
float tensor with 1 for known pixels and 0 for the hole.

Example:
    >>> import numpy as np
    >>> from restore.inpainting.masks import mask_to_known
    >>> hole = np.zeros((4, 4), np.uint8); hole[1:3, 1:3] = 255
    >>> known = mask_to_known(hole)
    >>> known.shape, int(known.sum())
    (torch.Size([1, 1, 4, 4]), 12)
"""

from __future__ import annotations

import os
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageReadError, RestoreError

if TYPE_CHECKING:  # torch is imported where it is used: match_masks runs before a command loads torch
    import torch

#: 8-bit threshold: values above it are holes.
THRESHOLD = 127


def _hole_from_planes(colour: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    """``(1, 1, H, W)`` hole strength in [0, 1] from colour ``(1, C, H, W)`` and optional alpha."""
    if alpha is not None and bool((alpha < 1).any()):
        return alpha
    return colour.amax(dim=1, keepdim=True)


def _as_planes(mask) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Any mask (PIL, numpy, tensor) -> colour ``(1, C, H, W)`` and alpha in [0, 1]."""
    import torch

    from ..convert import to_tensor

    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        mask = mask.astype(np.uint8) * 255
    if torch.is_tensor(mask):
        if mask.dtype == torch.bool:
            mask = mask.float()
        if mask.dim() == 2:
            mask = mask[None, None]
        elif mask.dim() == 3 and mask.shape[0] not in (1, 2, 3, 4):
            mask = mask[:, None]  # (B, H, W)
    colour, alpha, _ = to_tensor(mask)
    if colour.shape[0] != 1:
        raise RestoreError(f"a mask must be a single image, got a batch of {colour.shape[0]}")
    return colour, alpha


#: largest relative difference of aspect ratio (width / height) between a mask and its image that is taken
#: as rounding (a mask saved at another size) rather than another shape; one pixel of the smaller side more.
ASPECT_TOLERANCE = 0.01


def check_mask_size(mask_size: tuple[int, int], image_size: tuple[int, int], *, name: str = "mask") -> bool:
    """Whether a ``(height, width)`` mask must be resized to a ``(height, width)`` image; raise when it cannot be.

    A mask of the image's aspect ratio but another size is resized (nearest neighbour) by
    :func:`mask_to_known`: ``True``. One of another aspect ratio (beyond rounding: more than
    :data:`ASPECT_TOLERANCE`, or one pixel of the smaller side) would be stretched and move the hole:

    Raises:
        RestoreError: one line naming both sizes as WxH.
    """
    (mh, mw), (ih, iw) = (int(v) for v in mask_size), (int(v) for v in image_size)
    if (mh, mw) == (ih, iw):
        return False
    tolerance = max(ASPECT_TOLERANCE, 1 / max(1, min(mh, mw, ih, iw)))
    if abs((mw / mh) / (iw / ih) - 1) > tolerance:
        raise RestoreError(f"{name}: the mask is {mw}x{mh} but the image is {iw}x{ih}: another aspect ratio, so "
                           "resizing it would stretch and move the hole; give a mask of the image's shape")
    return True


def mask_to_known(mask, size: tuple[int, int] | None = None, *, invert: bool = False,
                  name: str = "mask", on_resize: Callable[[str], None] | None = None) -> torch.Tensor:
    """Known-pixel map ``M`` (1 = known, 0 = hole), ``(1, 1, H, W)`` float32, from a hole mask.

    Args:
        mask: PIL image, numpy array (uint8/uint16/float/bool) or tensor in [0, 1]; white / non-zero = hole.
        size: ``(height, width)`` to resize to (nearest neighbour), or ``None`` to keep the mask's size.
            The mask must have the same aspect ratio (:func:`check_mask_size`).
        invert: read black as the hole instead.
        name: how errors refer to the mask (a file name).
        on_resize: called with a one-line note (``"mask.png: mask 64x64 resized to 512x512"``) when the mask is
            resized; the library itself says nothing.

    Raises:
        RestoreError: the mask marks no hole, or marks every pixel, or has another aspect ratio than ``size``.
    """
    import torch
    import torch.nn.functional as F

    colour, alpha = _as_planes(mask)
    strength = _hole_from_planes(colour, alpha)
    if size is not None and check_mask_size(tuple(strength.shape[-2:]), tuple(size), name=name):
        (mh, mw), (h, w) = strength.shape[-2:], size
        strength = F.interpolate(strength, size=tuple(size), mode="nearest-exact")
        if on_resize is not None:
            on_resize(f"{name}: mask {mw}x{mh} resized to {w}x{h} (nearest)")
    # Compare on the 8-bit scale so 16-bit and float masks follow the same threshold.
    hole = torch.round(strength * 255) > THRESHOLD
    if invert:
        hole = ~hole
    check_known(~hole, name=name)
    return (~hole).float()


def check_known(known: torch.Tensor, *, name: str = "mask") -> None:
    """Raise a one-line :class:`RestoreError` for a mask with no hole or no known pixel."""
    import torch

    known = known.bool() if known.dtype == torch.bool else known > 0.5
    if bool(known.all()):
        raise RestoreError(f"{name}: the mask is empty (no white / non-zero pixel marks a hole); "
                           "nothing to inpaint")
    if not bool(known.any()):
        raise RestoreError(f"{name}: the mask covers the whole image; nothing is left to inpaint from")


def load_mask(path: str | os.PathLike, size: tuple[int, int] | None = None, *,
              invert: bool = False, on_resize: Callable[[str], None] | None = None) -> torch.Tensor:
    """Read a mask file into the known-pixel map ``M`` ``(1, 1, H, W)`` (see :func:`mask_to_known`)."""
    import torch

    from ..io import read_image

    path = Path(path)
    try:
        loaded = read_image(path)
    except ImageReadError as exc:
        raise RestoreError(f"unreadable mask: {exc}") from None
    planes = loaded.tensor if loaded.alpha is None else torch.cat([loaded.tensor, loaded.alpha], 1)
    return mask_to_known(planes, size, invert=invert, name=str(path), on_resize=on_resize)


def match_masks(images: list[Path], mask: str | os.PathLike) -> dict[Path, Path]:
    """Which mask file goes with each image: one file for all, or a folder matched by file stem.

    Raises:
        RestoreError: the mask path does not exist, or the folder has no (or several) masks for an image.
    """
    from ..io import IMAGE_EXTENSIONS

    mask = Path(mask)
    if mask.is_file():
        return {img: mask for img in images}
    if not mask.is_dir():
        raise RestoreError(f"{mask}: mask file or folder not found")
    by_stem: dict[str, list[Path]] = {}
    for f in sorted(mask.iterdir()):
        if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
            by_stem.setdefault(f.stem, []).append(f)
    matched = {}
    for img in images:
        found = by_stem.get(img.stem, [])
        if not found:
            raise RestoreError(f"{mask}: no mask named {img.stem}.* for {img.name}")
        if len(found) > 1:
            raise RestoreError(f"{mask}: several masks for {img.name} ({', '.join(f.name for f in found)})")
        matched[img] = found[0]
    return matched


def hole_box(known: torch.Tensor) -> tuple[int, int, int, int]:
    """Bounding box ``(top, left, bottom, right)`` (exclusive ends) of the hole in ``(..., H, W)``."""
    import torch

    hole = known.reshape(-1, *known.shape[-2:]).amin(0) < 0.5
    rows = torch.nonzero(hole.any(1)).flatten()
    cols = torch.nonzero(hole.any(0)).flatten()
    if rows.numel() == 0:
        raise RestoreError("the mask is empty (no hole)")
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1
