"""LPIPS (Zhang et al. 2018) that works offline, through the ``lpips`` package.

The ``lpips`` package would download its ImageNet backbone from the internet and unpickle its linear
layers; here the network is built without either and both are loaded from restore's verified offline
cache (:mod:`restore.backbones`), so no pickle from outside is ever opened with plain ``torch.load``.

Example:
    >>> import torch
    >>> from restore.metrics import lpips
    >>> a = torch.rand(1, 3, 64, 64)
    >>> float(lpips(a, a))  # doctest: +SKIP
    0.0
"""

from __future__ import annotations

import re
import warnings

import torch
from torch import nn

__all__ = ["LPIPS", "lpips", "MIN_SIDE"]


#: the smallest side each backbone accepts (AlexNet's stride-4 stem and two pools; VGG's four pools).
MIN_SIDE = {"alex": 31, "vgg": 16}


class LPIPS(nn.Module):
    """Learned perceptual distance. ``forward(x, y)``: ``(B, 3, H, W)`` in ``[0, 1]`` -> ``(B,)``; lower is closer.

    Args:
        net: ``"alex"`` (the usual choice for evaluation) or ``"vgg"``.
        crop_border: pixels dropped on each side first (match the PSNR/SSIM protocol).
    """

    def __init__(self, net: str = "alex", crop_border: int = 0):
        super().__init__()
        if net not in ("alex", "vgg"):
            raise ValueError(f"LPIPS net must be 'alex' or 'vgg', got {net!r}")
        import lpips as lpips_pkg

        from ..backbones import backbone_state, lpips_linear_state

        self.net_name, self.crop_border = net, crop_border
        with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=` flag
            warnings.simplefilter("ignore", UserWarning)
            model = lpips_pkg.LPIPS(pretrained=False, net=net, pnet_rand=True, verbose=False)
        features, _ = backbone_state("alexnet" if net == "alex" else "vgg16")
        state = {}
        for name, _param in model.net.named_parameters():
            idx = re.match(r"slice\d+\.(\d+)\.(weight|bias)", name)
            state[f"net.{name}"] = features[f"features.{idx.group(1)}.{idx.group(2)}"]
        for key, value in lpips_linear_state(net).items():  # lin{k}.weight -> lin{k}.model.1.weight
            state[key.replace(".weight", ".model.1.weight")] = value
            state[key.replace("lin", "lins.").replace(".weight", ".model.1.weight")] = value  # alias list
        own = model.state_dict()
        state.update({k: v for k, v in own.items() if k.startswith("scaling_layer")})
        model.load_state_dict(state, strict=True)
        self.model = model.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape:
            raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
        if x.shape[1] == 1:  # LPIPS is defined on RGB: repeat gray
            x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
        c = self.crop_border
        if c:
            x, y = x[..., c:-c, c:-c], y[..., c:-c, c:-c]
        if min(x.shape[-2:]) < MIN_SIDE[self.net_name]:
            from ..errors import RestoreError

            raise RestoreError(f"LPIPS ({self.net_name}) needs images of at least {MIN_SIDE[self.net_name]}x"
                               f"{MIN_SIDE[self.net_name]} pixels after the border crop, got "
                               f"{x.shape[-1]}x{x.shape[-2]}")
        return self.model(x.float(), y.float(), normalize=True).flatten()


_MODELS: dict[tuple[str, str], LPIPS] = {}


def lpips(x: torch.Tensor, y: torch.Tensor, *, net: str = "alex", crop_border: int = 0) -> torch.Tensor:
    """Functional LPIPS: ``(B, 3, H, W)`` in ``[0, 1]`` -> ``(B,)``. The network is built once per device."""
    key = (net, str(x.device))
    if key not in _MODELS:
        _MODELS[key] = LPIPS(net).to(x.device)
    model = _MODELS[key]
    model.crop_border = crop_border
    with torch.no_grad():
        return model(x, y)
