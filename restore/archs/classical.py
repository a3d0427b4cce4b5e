"""Classical upscalers behind the SR network interface, so ``restore sr --model bicubic|lanczos`` needs no
weights and benchmark tables get their baseline rows from the same command.

* ``bicubic``: MATLAB-style bicubic (:func:`restore.data.degradation.imresize`), the SR literature's
  baseline and the inverse of the degradation restore trains with.
* ``lanczos``: Lanczos-3 (Pillow's float resampler, channel by channel).

Example:
    >>> import torch
    >>> from restore.archs.classical import ClassicalUpscaler
    >>> ClassicalUpscaler(scale=4, method="bicubic")(torch.rand(1, 3, 8, 8)).shape
    torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: method -> kernel radius in input pixels (what tiling must pad to stay exact).
CLASSICAL_UPSCALERS = {"bicubic": 2, "lanczos": 3}


class ClassicalUpscaler(nn.Module):
    """``(B, C, H, W)`` in [0, 1] -> ``(B, C, scale*H, scale*W)`` by a fixed kernel (no parameters)."""

    in_channels = 3

    def __init__(self, scale: int = 4, method: str = "bicubic"):
        super().__init__()
        if method not in CLASSICAL_UPSCALERS:
            raise ValueError(f"classical upscaler must be one of {', '.join(CLASSICAL_UPSCALERS)}, got {method!r}")
        self.scale, self.method = int(scale), method
        self.receptive_radius = CLASSICAL_UPSCALERS[method]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.method == "bicubic":
            from ..data.degradation import imresize

            return imresize(x, self.scale)
        from PIL import Image

        h, w = x.shape[-2:]
        planes = x.detach().cpu().numpy()
        out = np.empty((*planes.shape[:2], h * self.scale, w * self.scale), np.float32)
        for b in range(planes.shape[0]):
            for c in range(planes.shape[1]):
                img = Image.fromarray(planes[b, c], mode="F")
                out[b, c] = np.asarray(img.resize((w * self.scale, h * self.scale), Image.Resampling.LANCZOS))
        return torch.from_numpy(out).to(x.device)
