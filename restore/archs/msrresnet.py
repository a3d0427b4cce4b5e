"""MSRResNet: BasicSR's "modified SRResNet" (Wang et al., ESRGAN 2018), with BasicSR's parameter names.

No BatchNorm, conv-ReLU-conv residual blocks, LeakyReLU(0.1) around the sub-pixel upsamplers and a
bilinear skip from the input. Parameter names match BasicSR's ``MSRResNet`` exactly
(``conv_first``, ``body.N.conv1``, ``upconv1``, ``upconv2``, ``conv_hr``, ``conv_last``), so its
``.pth`` checkpoints load after ``restore import-weights``.

Example:
    >>> import torch
    >>> from restore.archs.msrresnet import MSRResNet
    >>> MSRResNet(scale=4, num_blocks=2, channels=8)(torch.rand(1, 3, 6, 5)).shape
    torch.Size([1, 3, 24, 20])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlockNoBN(nn.Module):
    """x + conv(relu(conv(x)))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class MSRResNet(nn.Module):
    """``(B, C, H, W)`` in [0, 1] -> ``(B, C, scale*H, scale*W)`` (not clamped).

    Args:
        scale: 2, 3 or 4.
        num_blocks, channels: residual blocks and feature width (16 and 64 in BasicSR).
        in_channels: image channels (3).
    """

    def __init__(self, scale: int = 4, num_blocks: int = 16, channels: int = 64, in_channels: int = 3):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"MSRResNet scale must be 2, 3 or 4, got {scale}")
        self.scale, self.num_blocks, self.channels, self.in_channels = scale, num_blocks, channels, in_channels
        self.conv_first = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlockNoBN(channels) for _ in range(num_blocks)])
        first = 4 if scale == 4 else scale * scale
        self.upconv1 = nn.Conv2d(channels, channels * first, 3, padding=1)
        if scale == 4:
            self.upconv2 = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(2 if scale == 4 else scale)
        self.conv_hr = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_last = nn.Conv2d(channels, in_channels, 3, padding=1)

    @property
    def config(self) -> dict:
        return {"scale": self.scale, "num_blocks": self.num_blocks, "channels": self.channels,
                "in_channels": self.in_channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(F.leaky_relu(self.conv_first(x), 0.1))
        out = F.leaky_relu(self.pixel_shuffle(self.upconv1(out)), 0.1)
        if self.scale == 4:
            out = F.leaky_relu(self.pixel_shuffle(self.upconv2(out)), 0.1)
        out = self.conv_last(F.leaky_relu(self.conv_hr(out), 0.1))
        return out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
