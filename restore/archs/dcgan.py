"""DCGAN (Radford et al. 2016): the generative prior for semantic inpainting (Yeh et al. 2017).

Generator: z (B, nz) -> fractionally-strided convolutions with BatchNorm + ReLU -> tanh image in [-1, 1].
Discriminator: strided convolutions, BatchNorm on every layer but the first, LeakyReLU(0.2) -> one logit.
Both are initialised N(0, 0.02) (BatchNorm scales N(1, 0.02)). Public methods take and give [0, 1].

Example:
    >>> import torch
    >>> gan = DCGAN(resolution=32, channels=1, g_width=8, d_width=8)
    >>> gan.generate(gan.sample_latent(2)).shape
    torch.Size([2, 1, 32, 32])
"""

from __future__ import annotations

import math

import torch
from torch import nn

RESOLUTIONS = (32, 64)
PRIORS = ("uniform", "gaussian")


def _num_upsamplings(resolution: int) -> int:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"DCGAN resolution must be one of {RESOLUTIONS}, got {resolution}")
    return int(math.log2(resolution // 4))  # 4x4 seed map doubled until the resolution


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (B, nz) -> image (B, C, H, W) in [-1, 1]."""

    def __init__(self, resolution: int = 64, channels: int = 3, nz: int = 100, width: int = 64):
        super().__init__()
        n = _num_upsamplings(resolution)
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (B, C, H, W) in [-1, 1] -> logits (B,), and with ``return_features`` the flattened
    penultimate activations (B, F) as well (used by the inpainting's perceptual/feature terms)."""

    def __init__(self, resolution: int = 64, channels: int = 3, width: int = 64):
        super().__init__()
        n = _num_upsamplings(resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0, bias=False)  # 4x4 map -> one logit

    def forward(self, x: torch.Tensor, return_features: bool = False):
        feats = self.features(x)
        logits = self.head(feats).view(-1)
        if return_features:
            return logits, feats.flatten(1)
        return logits


class DCGAN(nn.Module):
    """Generator + discriminator pair, with [0, 1] public methods.

    Args:
        resolution: 32 or 64 (square images).
        channels: 1 (grayscale) or 3 (RGB).
        nz: latent size.
        g_width, d_width: channels of the generator's last / discriminator's first hidden layer.
        prior: ``"uniform"`` (z ~ U[-1, 1], as in the DCGAN paper) or ``"gaussian"`` (z ~ N(0, 1)).
    """

    def __init__(self, resolution: int = 64, channels: int = 3, nz: int = 100, g_width: int = 64,
                 d_width: int = 64, prior: str = "uniform"):
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        self.resolution, self.channels, self.nz, self.prior = resolution, channels, nz, prior
        self.config = dict(resolution=resolution, channels=channels, nz=nz, g_width=g_width,
                           d_width=d_width, prior=prior)
        self.generator = DCGANGenerator(resolution, channels, nz, g_width)
        self.discriminator = DCGANDiscriminator(resolution, channels, d_width)
        dcgan_init(self)

    def sample_latent(self, n: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` latent vectors (n, nz) from the prior; reproducible with a seeded CPU ``generator``."""
        if self.prior == "uniform":
            z = torch.rand(n, self.nz, generator=generator) * 2 - 1
        else:
            z = torch.randn(n, self.nz, generator=generator)
        return z.to(device or next(self.parameters()).device)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, nz) -> images (B, C, H, W) in [0, 1]."""
        return (self.generator(z).float() + 1) / 2  # fp32 from here: bf16 is coarse near 0.5

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) in [0, 1] -> realness logits (B,)."""
        return self.discriminator(x * 2 - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generate(z)
