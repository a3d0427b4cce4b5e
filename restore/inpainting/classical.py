"""Classical inpainting baselines behind the same interface as the semantic search.

* ``"telea"``: OpenCV ``INPAINT_TELEA`` (fast marching, Telea 2004);
* ``"ns"``: OpenCV ``INPAINT_NS`` (Navier-Stokes, Bertalmio et al. 2001);
* ``"biharmonic"``: scikit-image ``inpaint_biharmonic``;
* ``"fsr-fast"``, ``"fsr-best"``: OpenCV contrib ``xphoto.inpaint`` frequency-selective reconstruction
  (Genser et al. 2018; Seiler et al. 2015), a sparse Fourier model fitted block by block around the hole;
  ``best`` is slower (tens of seconds for a 10% hole in a 600x400 photo on 2 cores).

OpenCV works on 8-bit images, so its fill is quantised; the known pixels are composited back from
the input, so outside the hole the output equals the input exactly.

Example:
    >>> import torch
    >>> from restore.inpainting.classical import inpaint_classical
    >>> y = torch.rand(1, 3, 16, 16); known = torch.ones(1, 1, 16, 16); known[..., 4:8, 4:8] = 0
    >>> out = inpaint_classical(y, known, "telea")
    >>> bool((out == y)[known.bool().expand_as(y)].all())
    True
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import RestoreError
from .blending import composite
from .methods import CLASSICAL_METHODS


def _xphoto_flag(method: str) -> int:
    import cv2

    return {"fsr-fast": cv2.xphoto.INPAINT_FSR_FAST, "fsr-best": cv2.xphoto.INPAINT_FSR_BEST}[method]


def _fill_one(image: np.ndarray, hole: np.ndarray, method: str, radius: int) -> np.ndarray:
    """``image`` ``(H, W, C)`` float in [0, 1], ``hole`` ``(H, W)`` bool -> filled ``(H, W, C)``."""
    if method == "biharmonic":
        from skimage.restoration import inpaint_biharmonic

        return inpaint_biharmonic(image, hole, channel_axis=-1)
    import cv2

    as8 = np.ascontiguousarray(np.clip(np.round(image * 255), 0, 255).astype(np.uint8))  # OpenCV writes C order
    if method.startswith("fsr-"):
        colour = np.repeat(as8, 3, axis=2) if as8.shape[2] == 1 else as8
        filled = np.zeros(colour.shape, np.uint8)
        cv2.xphoto.inpaint(colour, (~hole).astype(np.uint8) * 255, filled, _xphoto_flag(method))  # 255 = known
        filled = filled[..., :1] if as8.shape[2] == 1 else filled
    else:
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        filled = cv2.inpaint(as8, hole.astype(np.uint8) * 255, radius, flag)
    return filled.reshape(image.shape).astype(np.float32) / 255.0


def inpaint_classical(target: torch.Tensor, known: torch.Tensor, method: str = "telea", *,
                      radius: int = 3) -> torch.Tensor:
    """Fill the hole of ``target`` with a classical method.

    Args:
        target: ``(B, C, H, W)`` in [0, 1], C = 1 or 3.
        known: ``(B, 1, H, W)`` (1 = known, 0 = hole).
        method: one of :data:`CLASSICAL_METHODS`.
        radius: neighbourhood radius of Telea and Navier-Stokes, in pixels.

    Returns:
        ``(B, C, H, W)`` in [0, 1]; known pixels exactly as in ``target``.
    """
    if method not in CLASSICAL_METHODS:
        raise RestoreError(f"unknown classical method {method!r} (use {', '.join(CLASSICAL_METHODS)})")
    images = target.detach().float().cpu().permute(0, 2, 3, 1).numpy()
    holes = known.detach().cpu().numpy()[:, 0] < 0.5
    filled = [_fill_one(img, hole, method, radius) if hole.any() else img for img, hole in zip(images, holes)]
    fill = torch.from_numpy(np.stack(filled).astype(np.float32)).permute(0, 3, 1, 2).to(target.device)
    return composite(fill.clamp(0, 1), target, known)
