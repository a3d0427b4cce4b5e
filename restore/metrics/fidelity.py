"""PSNR and SSIM on batched tensors, on RGB or on the BT.601 luma channel (the SR literature's protocol).

Inputs are ``(B, C, H, W)`` float in ``[0, 1]``; results are one value per image, shape ``(B,)``.
Both agree with scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity``
(``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``, the Wang et al. 2004 settings)
within 1e-4 on the same inputs; the tests check it.

Example:
    >>> import torch
    >>> from restore.metrics import psnr, ssim
    >>> ref = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> noisy = (ref + 0.05 * torch.randn_like(ref)).clamp(0, 1)
    >>> psnr(noisy, ref, crop_border=4, y_channel=True).shape
    torch.Size([2])
    >>> bool(ssim(ref, ref).allclose(torch.ones(2, dtype=torch.float64)))
    True
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["rgb_to_y", "psnr", "ssim", "PSNR", "SSIM"]


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """Luma of ITU-R BT.601 studio-swing YCbCr, as MATLAB's ``rgb2ycbcr``: ``(B, 3, H, W) -> (B, 1, H, W)``.

    Values lie in ``[16/255, 235/255]``. (kornia's ``rgb_to_ycbcr`` is the full-range JPEG variant, which
    is not what SR papers report, hence this one-line formula.) A 1-channel input is returned as is.
    """
    if rgb.shape[-3] == 1:
        return rgb
    r, g, b = rgb[..., 0:1, :, :], rgb[..., 1:2, :, :], rgb[..., 2:3, :, :]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _prepare(x: torch.Tensor, y: torch.Tensor, crop_border: int, y_channel: bool):
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.dim() == 3:
        x, y = x[None], y[None]
    if x.dim() != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(x.shape)}")
    x, y = x.double(), y.double()
    if y_channel:
        x, y = rgb_to_y(x), rgb_to_y(y)
    if crop_border:
        c = int(crop_border)
        if 2 * c >= min(x.shape[-2:]):
            raise ValueError(f"crop_border={c} leaves nothing of a {x.shape[-1]}x{x.shape[-2]} image")
        x, y = x[..., c:-c, c:-c], y[..., c:-c, c:-c]
    return x, y


def psnr(x: torch.Tensor, y: torch.Tensor, *, crop_border: int = 0, y_channel: bool = False,
         data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per image.

    Args:
        x, y: ``(B, C, H, W)`` in ``[0, data_range]``.
        crop_border: pixels dropped on each side first (the SR convention: the scale factor).
        y_channel: compare BT.601 luma only (MATLAB ``rgb2ycbcr``) instead of all channels.

    Returns:
        ``(B,)`` float64; ``inf`` where the images are identical.
    """
    x, y = _prepare(x, y, crop_border, y_channel)
    mse = (x - y).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(data_range ** 2 / mse)


def ssim(x: torch.Tensor, y: torch.Tensor, *, crop_border: int = 0, y_channel: bool = False,
         data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5), per image.

    The mean is taken over the window positions that lie wholly inside the image and over channels,
    as scikit-image does. Args as :func:`psnr`. Returns ``(B,)`` float64.
    """
    import kornia

    x, y = _prepare(x, y, crop_border, y_channel)
    if min(x.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {x.shape[-1]}x{x.shape[-2]}")
    smap = kornia.metrics.ssim(x, y, window_size=11, max_val=data_range, padding="valid")
    return smap.flatten(1).mean(1)


class PSNR(nn.Module):
    """Module form of :func:`psnr` (same arguments, fixed at construction)."""

    def __init__(self, crop_border: int = 0, y_channel: bool = False, data_range: float = 1.0):
        super().__init__()
        self.crop_border, self.y_channel, self.data_range = crop_border, y_channel, data_range

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return psnr(x, y, crop_border=self.crop_border, y_channel=self.y_channel, data_range=self.data_range)


class SSIM(PSNR):
    """Module form of :func:`ssim` (same arguments, fixed at construction)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ssim(x, y, crop_border=self.crop_border, y_channel=self.y_channel, data_range=self.data_range)
