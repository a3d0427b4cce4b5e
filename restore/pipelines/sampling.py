"""Sampling from the generative priors (DCGAN, VAE): samples, VAE encodings, latent interpolations.

Example:
    >>> from restore.pipelines.sampling import Sampler
    >>> sampler = Sampler.from_pretrained("fashion-dcgan")  # doctest: +SKIP
    >>> images = sampler.sample(16, seed=0)  # (16, 1, 32, 32) in [0, 1]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from ..device import autocast, resolve_precision
from ..errors import RestoreError
from .priors import is_spherical


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, *, spherical: bool) -> torch.Tensor:
    """Latents on the way from ``z0`` to ``z1`` (each (B, nz)) -> (B, steps, nz).

    Spherical (slerp) for Gaussian priors, whose mass lies near a sphere; linear for the uniform cube."""
    t = torch.linspace(0, 1, steps, device=z0.device).view(1, steps, 1)
    a, b = z0[:, None], z1[:, None]
    if not spherical:
        return a + (b - a) * t
    cos = (nn.functional.normalize(z0, dim=1) * nn.functional.normalize(z1, dim=1)).sum(1).clamp(-1, 1)
    omega = torch.acos(cos).view(-1, 1, 1)
    so = torch.sin(omega).clamp_min(1e-6)
    slerp = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / so
    return torch.where(omega < 1e-4, a + (b - a) * t, slerp)  # nearly parallel: lerp is exact enough


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> one (1, C, H', W') grid image, ``nrow`` images a row (default ~square)."""
    from torchvision.utils import make_grid

    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    return make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)[None]


@torch.no_grad()
def generate(model: nn.Module, z: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Codes ``(N, nz)`` on ``device`` -> ``model.generate`` images ``(N, C, H, W)`` in [0, 1] on the host,
    in chunks of 256 under the precision's autocast."""
    with autocast(device, dtype):
        images = torch.cat([model.generate(chunk) for chunk in z.split(256)])
    return images.float().clamp(0, 1).cpu()


class Sampler:
    """Draw images from a DCGAN or VAE prior. ``model`` needs ``sample_latent`` and ``generate``."""

    def __init__(self, model: nn.Module, info: dict | None = None, device: torch.device | str = "cpu",
                 precision: str = "auto"):
        self.device = torch.device(device)
        self.dtype = resolve_precision(precision, self.device)
        self.model = model.eval().to(self.device)
        self.info = info or {}

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        return generate(self.model, z, self.device, self.dtype)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: torch.device | str = "cpu",
                        precision: str = "auto") -> "Sampler":
        """A registered model name (task ``gan`` or ``vae``) or a ``.safetensors`` file with its card."""
        from ..registry import load_model

        model, info = load_model(name_or_path)
        if info["arch"] not in ("dcgan", "vae"):
            raise RestoreError(f"{name_or_path}: a {info['arch']} model cannot be sampled (need dcgan or vae)")
        return cls(model, info, device, precision)

    @property
    def is_vae(self) -> bool:
        return hasattr(self.model, "encode")

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = 0) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [0, 1]; the same ``seed`` gives the same images."""
        if n < 1:
            raise RestoreError(f"number of samples must be at least 1, got {n}")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = self.model.sample_latent(n, generator=gen, device=self.device)
        return self._generate(z)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE only: images (B, C, H, W) in [0, 1] at the model's resolution -> (mu, logvar), each (B, nz)."""
        if not self.is_vae:
            raise RestoreError("only a VAE can encode images (this model is a GAN)")
        expected = (self.model.channels, self.model.resolution, self.model.resolution)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise RestoreError(f"encode expects (B, {expected[0]}, {expected[1]}, {expected[2]}) images, "
                               f"got {tuple(images.shape)}")
        mu, logvar = self.model.encode(images.to(self.device).float())
        return mu.cpu(), logvar.cpu()

    @torch.no_grad()
    def interpolate(self, rows: int = 8, steps: int = 10, seed: int | None = 0) -> torch.Tensor:
        """``rows`` interpolations between random latent pairs, ``steps`` images each ->
        (rows * steps, C, H, W) in [0, 1], row-major (one row per pair)."""
        if rows < 1 or steps < 2:
            raise RestoreError("interpolation needs at least 1 row and 2 steps")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = self.model.sample_latent(2 * rows, generator=gen, device=self.device)
        path = interpolate_latents(z[:rows], z[rows:], steps, spherical=is_spherical(self.model))
        return self._generate(path.reshape(rows * steps, -1))
