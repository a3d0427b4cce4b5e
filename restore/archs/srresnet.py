"""SRResNet generator and SRGAN discriminator (Ledig et al., CVPR 2017).

Both are plain modules working on ``(B, C, H, W)`` float in ``[0, 1]``. For inference,
:func:`restore.archs.fusion.fold_batchnorm` merges every BatchNorm into the convolution before it.

Example:
    >>> import torch
    >>> from restore.archs.srresnet import SRResNet, SRGANDiscriminator
    >>> g = SRResNet(scale=4, num_blocks=2, channels=16).eval()
    >>> g(torch.rand(1, 3, 24, 24)).shape
    torch.Size([1, 3, 96, 96])
    >>> SRGANDiscriminator(base_channels=8)(torch.rand(2, 3, 96, 96)).shape
    torch.Size([2, 1])
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


class ResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN plus identity skip (``norm="none"``: no BN, as BasicSR's MSRResNet)."""

    def __init__(self, channels: int, norm: str = "batch"):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Sequential):
    """conv(C -> 4C) + PixelShuffle(2) + PReLU: doubles height and width."""

    def __init__(self, channels: int):
        super().__init__(nn.Conv2d(channels, channels * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(channels))


class SRResNet(nn.Module):
    """SRResNet generator: ``(B, C, H, W)`` in [0, 1] -> ``(B, C, scale*H, scale*W)``.

    Args:
        scale: 2, 4 or 8 (one upsampling block per factor of two).
        num_blocks: residual blocks (16 in the paper).
        channels: feature width (64 in the paper).
        in_channels: image channels (3).
        norm: ``"batch"`` (the paper: BatchNorm in every residual block and after the trunk) or
            ``"none"`` (no normalisation, as BasicSR's MSRResNet and EDSR; trains faster per step here).

    The network predicts in [-1, 1] internally (tanh-free, as the paper's generator); the output is
    mapped back to [0, 1] and is not clamped during training so MSE gradients stay unbiased. Pipelines
    clamp at the end.
    """

    def __init__(self, scale: int = 4, num_blocks: int = 16, channels: int = 64, in_channels: int = 3,
                 norm: str = "batch"):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SRResNet scale must be 2, 4 or 8, got {scale}")
        if norm not in ("batch", "none"):
            raise ValueError(f"SRResNet norm must be 'batch' or 'none', got {norm!r}")
        self.scale, self.num_blocks, self.channels, self.in_channels = scale, num_blocks, channels, in_channels
        self.norm = norm
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 9, padding=4), nn.PReLU(channels))
        self.blocks = nn.Sequential(*[ResidualBlock(channels, norm) for _ in range(num_blocks)])
        self.trunk_tail = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels))
        self.upsample = nn.Sequential(*[Upsample(channels) for _ in range(int(math.log2(scale)))])
        self.tail = nn.Conv2d(channels, in_channels, 9, padding=4)

    @property
    def config(self) -> dict:
        return {"scale": self.scale, "num_blocks": self.num_blocks, "channels": self.channels,
                "in_channels": self.in_channels, "norm": self.norm}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x * 2 - 1)
        feat = feat + self.trunk_tail(self.blocks(feat))
        return (self.tail(self.upsample(feat)) + 1) / 2


class SRGANDiscriminator(nn.Module):
    """SRGAN discriminator: ``(B, C, H, W)`` in [0, 1] -> logits ``(B, 1)``.

    Eight 3x3 convolutions 64->512 (stride 2 on every second one, BN after all but the first,
    LeakyReLU 0.2), then dense 1024, LeakyReLU, dense 1.

    Sizes: the convolutions reduce H and W by 16; an adaptive average pool to ``pool_size`` x
    ``pool_size`` (6, what a 96x96 patch gives) makes the dense head accept any patch of at least
    16x16, while a 96x96 patch sees exactly the paper's network.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, pool_size: int = 6):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for i in range(8):
            c_out = base_channels * 2 ** (i // 2)
            layers.append(nn.Conv2d(c_in, c_out, 3, stride=1 + i % 2, padding=1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * pool_size * pool_size, 1024),
                                  nn.LeakyReLU(0.2, inplace=True), nn.Linear(1024, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x * 2 - 1)))
