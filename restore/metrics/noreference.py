"""No-reference measures of an input's damage: JPEG quality, 8x8 blockiness and noise level.

They tell ``restore sr --model auto`` whether an image is a clean downscale (the bicubic-trained model
serves it best) or a compressed / noisy photo (the real-world model does). Thresholds live with the
choice (:mod:`restore.pipelines.sr_auto`), taken from the real-world benchmark.

* :func:`jpeg_quality` - the IJG quality whose scaled standard tables best match a JPEG file's own
  luminance quantisation table (what the file tells; ``None`` for other formats).
* :func:`blockiness` - mean absolute step across the 8x8 grid divided by the mean step inside the
  blocks, on luma: about 1 for clean images, growing as JPEG quality falls (what the pixels tell,
  for a JPEG saved again as PNG).
* :func:`noise_sigma` - Gaussian noise std on the 0..255 scale, by wavelet MAD per channel
  (``skimage.restoration.estimate_sigma``).

Example:
    >>> import torch
    >>> from restore.metrics.noreference import blockiness, noise_sigma
    >>> flat = torch.full((1, 3, 64, 64), 0.5)
    >>> noisy = (flat + torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 10 / 255)
    >>> round(noise_sigma(noisy))
    10
"""

from __future__ import annotations

import os

import numpy as np
import torch

__all__ = ["jpeg_quality", "blockiness", "noise_sigma", "IJG_LUMA_TABLE"]

#: The IJG (libjpeg) standard luminance table at quality 50, in natural (row-major) order.
IJG_LUMA_TABLE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)

_ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,
    7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31,
    39, 46, 53, 60, 61, 54, 47, 55, 62, 63])


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((IJG_LUMA_TABLE * scale + 50) / 100), 1, 255)


def jpeg_quality(path: str | os.PathLike) -> int | None:
    """The IJG quality (1..100) a JPEG file was saved at, from its luminance table; ``None`` if not a JPEG.

    Reads the header only. Encoders with their own tables (some cameras, Photoshop) get the nearest
    IJG quality, which still orders them by coarseness.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return None
            tables = getattr(im, "quantization", None) or {}
    except OSError:
        return None
    if 0 not in tables or len(tables[0]) != 64:
        return None
    luma = np.asarray(tables[0], dtype=np.float64)
    # Pillow gives the table in zigzag order on some versions and natural order on others: take the closer.
    candidates = (luma, luma[np.argsort(_ZIGZAG)])
    errors = [(min(np.abs(np.log(c) - np.log(_ijg_table(q))).mean() for c in candidates), q) for q in range(1, 101)]
    return min(errors)[1]


def _luma(image: torch.Tensor) -> np.ndarray:
    """``(H, W)`` float64 luma on the 0..255 scale of a ``(1, C, H, W)`` / ``(C, H, W)`` tensor in [0, 1]."""
    x = image.detach().float().cpu()
    x = x[0] if x.dim() == 4 else x
    if x.shape[0] >= 3:
        x = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    else:
        x = x[0]
    return x.numpy().astype(np.float64) * 255.0


def blockiness(image: torch.Tensor, block: int = 8) -> float:
    """Mean |step| across the ``block`` grid over the mean |step| inside blocks, on luma (both axes).

    ``image``: ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1], at least ``2 * block`` pixels a side, its
    grid aligned with the top-left corner (as a decoded JPEG's is). About 1.0 for natural images;
    a quality-30 JPEG scores about 1.5-2.
    """
    y = _luma(image)
    ratios = []
    for d in (np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0)).T):
        if d.shape[1] < 2 * block:
            continue
        at_edge = np.zeros(d.shape[1], dtype=bool)
        at_edge[block - 1::block] = True  # the step between pixel 8k-1 and 8k
        across, inside = d[:, at_edge].mean(), d[:, ~at_edge].mean()
        ratios.append((across + 1e-3) / (inside + 1e-3))
    return float(np.mean(ratios)) if ratios else 1.0


def noise_sigma(image: torch.Tensor) -> float:
    """Estimated Gaussian noise std on the 0..255 scale: wavelet MAD per channel, averaged (scikit-image).

    ``image``: ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1]. Per channel, because colour noise partly
    cancels in luma; fine texture reads as a little noise (a clean 128x128 downscale scores ~2-3).
    """
    import warnings

    from skimage.restoration import estimate_sigma

    x = image.detach().float().cpu()
    x = (x[0] if x.dim() == 4 else x)[:3].permute(1, 2, 0).numpy().astype(np.float64)
    if min(x.shape[:2]) < 8:  # too small for a wavelet estimate: no evidence of noise
        return 0.0
    with warnings.catch_warnings():  # skimage warns about shapes it cannot tell apart; never a stderr line
        warnings.simplefilter("ignore")
        return float(estimate_sigma(x, channel_axis=-1, average_sigmas=True) * 255.0)
