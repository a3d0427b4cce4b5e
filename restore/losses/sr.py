"""Losses of SRResNet/SRGAN (Ledig et al. 2017): pixel MSE, VGG content, adversarial, total variation,
and LR consistency (the output, downscaled again, must give back its input).

All take images ``(B, C, H, W)`` float in [0, 1] and return a scalar tensor.

Example:
    >>> import torch
    >>> from restore.losses.sr import AdversarialLoss, pixel_loss, tv_loss
    >>> sr, hr = torch.rand(2, 3, 24, 24), torch.rand(2, 3, 24, 24)
    >>> float(pixel_loss(hr, hr))
    0.0
    >>> adv = AdversarialLoss(weight=1e-3)
    >>> adv.generator(torch.zeros(2, 1)).item() > 0
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["pixel_loss", "VGGContentLoss", "AdversarialLoss", "tv_loss", "lr_consistency_loss", "VGG_LAYERS"]

#: Pixel-wise MSE (the SRResNet objective): ``pixel_loss(sr, hr)``.
pixel_loss = F.mse_loss

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _vgg_layer_names(arch: str) -> list[str]:
    """Names of torchvision VGG ``features`` entries: conv1_1, relu1_1, ..., pool5."""
    blocks = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}[arch]
    names = []
    for b, convs in enumerate(blocks, 1):
        for c in range(1, convs + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return names


VGG_LAYERS = {arch: _vgg_layer_names(arch) for arch in ("vgg16", "vgg19")}


class VGGContentLoss(nn.Module):
    """MSE between VGG feature maps of SR and HR (the paper's VGG_{i,j} loss), features scaled by ``feature_scale``.

    Args:
        layer: feature map name, e.g. ``"relu5_4"`` (VGG54, the paper's choice) or ``"relu2_2"`` (VGG22).
        net: ``"vgg19"`` (the paper) or ``"vgg16"``. Offline only VGG16 exists unless torchvision's
            official VGG19 file is in ``$TORCH_HOME/hub/checkpoints``; then the same block's last ReLU of
            VGG16 is used (``relu5_4`` -> ``relu5_3``) and :attr:`layer_used` / :attr:`source` say so.
        feature_scale: features are multiplied by this before the MSE (1/12.75 in the paper, which maps
            the [0, 255]-range VGG activations to the scale of the pixel loss).

    Inputs are [0, 1] images; ImageNet normalisation happens inside. The network is frozen.
    """

    def __init__(self, layer: str = "relu5_4", net: str = "vgg19", feature_scale: float = 1 / 12.75):
        super().__init__()
        from ..backbones import imagenet_features
        from ..errors import RestoreError

        if net not in VGG_LAYERS:
            raise RestoreError(f"content loss network must be vgg16 or vgg19, got {net!r}")
        if layer not in VGG_LAYERS[net]:
            raise RestoreError(f"{net} has no layer {layer!r} (e.g. relu2_2, relu5_4)")
        features = imagenet_features(net)
        names = VGG_LAYERS[features.arch]
        if layer not in names:  # vgg19 layer on the vgg16 fallback: last layer of that kind in the block
            prefix = layer.split("_")[0]
            used = [n for n in names if n.startswith(prefix + "_")][-1]
        else:
            used = layer
        self.layer_requested, self.layer_used, self.arch = layer, used, features.arch
        self.source = features.source
        self.features = features[: names.index(used) + 1]
        self.feature_scale = feature_scale
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        import kornia

        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features(kornia.enhance.normalize(x, self.mean[0, :, 0, 0], self.std[0, :, 0, 0])) \
            * self.feature_scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.extract(hr)
        return F.mse_loss(self.extract(sr).float(), target.float())


class AdversarialLoss(nn.Module):
    """Binary cross-entropy with logits; the generator uses the non-saturating form ``-log D(G(z))``.

    ``discriminator_term(logits, real)`` -> BCE(logits, 1 if real else 0), on a batch of one kind only
    (the SRGAN discriminator has BatchNorm: a mixed batch lets it judge each half by the other);
    ``generator(fake_logits)`` -> ``weight`` * BCE(fake, 1) (weight 1e-3 in the paper).
    """

    def __init__(self, weight: float = 1e-3):
        super().__init__()
        self.weight = weight

    @staticmethod
    def discriminator_term(logits: torch.Tensor, real: bool) -> torch.Tensor:
        """BCE of the discriminator's logits on a batch of all-real (target 1) or all-generated (0) images."""
        target = torch.full_like(logits, float(real), dtype=torch.float32)
        return F.binary_cross_entropy_with_logits(logits.float(), target)

    def generator(self, fake_logits: torch.Tensor) -> torch.Tensor:
        target = torch.ones_like(fake_logits, dtype=torch.float32)
        return self.weight * F.binary_cross_entropy_with_logits(fake_logits.float(), target)

    forward = generator


def tv_loss(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Total variation (kornia), averaged over images and pixels, times ``weight``."""
    import kornia

    return weight * kornia.losses.total_variation(x.float(), reduction="mean").mean()


def lr_consistency_loss(sr: torch.Tensor, lr: torch.Tensor, scale: int) -> torch.Tensor:
    """L1 between ``sr`` downscaled by the training degradation (MATLAB bicubic, unquantised) and ``lr``.

    Deep VGG features and the discriminator barely see low frequencies, so an SRGAN can drift in colour
    and brightness; this term pins the output's low frequencies to its input without asking for the
    blurry high frequencies of a pixel loss. ``sr`` is ``(B, C, scale*H, scale*W)``, ``lr`` ``(B, C, H, W)``.
    """
    from ..data.degradation import degrade

    return F.l1_loss(degrade(sr.float(), scale, quantize=False), lr.float())
