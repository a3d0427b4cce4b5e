"""Quality metrics: PSNR, SSIM (RGB or BT.601 luma, border crop) and offline LPIPS.

All take ``(B, C, H, W)`` float in ``[0, 1]`` and return one value per image, shape ``(B,)``.
"""

from .fidelity import PSNR, SSIM, psnr, rgb_to_y, ssim
from .perceptual import LPIPS, lpips
from .frechet import frechet_alexnet_distance, frechet_distance

__all__ = ["psnr", "ssim", "lpips", "PSNR", "SSIM", "LPIPS", "rgb_to_y", "frechet_alexnet_distance", "frechet_distance"]
