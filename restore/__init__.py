"""restore: image restoration with generative models.

Super-resolution (SRResNet / SRGAN) and inpainting by latent optimisation over a trained
generator (Yeh et al. 2017), on DCGAN and VAE backbones, reported with PSNR, SSIM and LPIPS.

Conventions (every public boundary): tensors are ``(B, C, H, W)`` float in ``[0, 1]``;
networks that work in ``[-1, 1]`` convert inside. Heavy submodules are imported lazily.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
