"""Convolutional VAE (Kingma & Welling 2014): the second generative prior for inpainting.

Encoder: strided convolutions (BatchNorm, LeakyReLU) -> (mu, log sigma^2). Decoder: z -> 4x4 map ->
fractionally-strided convolutions -> sigmoid mean image in [0, 1]. The likelihood is a discretised
Gaussian over the 256 pixel levels with one learned scale per channel (``log_scale``), so the ELBO is
a proper bound in nats on 8-bit images (see :mod:`restore.losses.generative`).

Example:
    >>> import torch
    >>> vae = VAE(resolution=32, channels=1, nz=16, width=8)
    >>> recon, mu, logvar = vae(torch.rand(2, 1, 32, 32))
    >>> recon.shape, mu.shape
    (torch.Size([2, 1, 32, 32]), torch.Size([2, 16]))
"""

from __future__ import annotations

import torch
from torch import nn

from .dcgan import _num_upsamplings


class VAE(nn.Module):
    """Args: resolution 32 or 64; channels 1 or 3; nz latent size; width channels of the first conv."""

    def __init__(self, resolution: int = 64, channels: int = 3, nz: int = 128, width: int = 64):
        super().__init__()
        n = _num_upsamplings(resolution)
        self.resolution, self.channels, self.nz = resolution, channels, nz
        self.config = dict(resolution=resolution, channels=channels, nz=nz, width=width)

        enc: list[nn.Module] = []
        ch_in, ch = channels, width
        for _ in range(n):
            enc += [nn.Conv2d(ch_in, ch, 4, 2, 1, bias=False), nn.BatchNorm2d(ch), nn.LeakyReLU(0.2, True)]
            ch_in, ch = ch, ch * 2
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        top = ch_in  # channels of the 4x4 map at the bottleneck
        self.to_stats = nn.Linear(top * 16, 2 * nz)

        self.from_latent = nn.Sequential(nn.Linear(nz, top * 16), nn.Unflatten(1, (top, 4, 4)),
                                         nn.BatchNorm2d(top), nn.ReLU(True))
        dec: list[nn.Module] = []
        ch = top
        for _ in range(n - 1):
            dec += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        dec += [nn.ConvTranspose2d(ch, channels, 4, 2, 1)]
        self.decoder = nn.Sequential(*dec)
        # per-channel log std of the pixel likelihood (in [0, 1] units); exp(-3) ~ 12/255 to start
        self.log_scale = nn.Parameter(torch.full((channels,), -3.0))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, C, H, W) in [0, 1] -> (mu, logvar), each (B, nz)."""
        stats = self.to_stats(self.encoder(x * 2 - 1))
        mu, logvar = stats.chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)  # keeps exp() finite early in training

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, nz) -> mean images (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decoder(self.from_latent(z)).float())  # fp32 sigmoid under autocast

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps in training; the mean in eval mode (deterministic reconstructions)."""
        if not self.training:
            return mu
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) in [0, 1] -> (reconstruction in [0, 1], mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def sample_latent(self, n: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` latent vectors (n, nz) from the N(0, I) prior."""
        return torch.randn(n, self.nz, generator=generator).to(device or next(self.parameters()).device)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`decode`, so samplers treat GAN and VAE alike."""
        return self.decode(z)
