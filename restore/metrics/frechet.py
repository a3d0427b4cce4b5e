"""Fréchet AlexNet Distance (FAD-Alex): the Fréchet distance between Gaussians fitted to ImageNet-AlexNet
features of two image sets. It is the FID recipe with another feature network, NOT the FID: the
Inception weights of the FID are not available offline, the AlexNet of LPIPS is
(:func:`restore.backbones.imagenet_features`). Figures are comparable only with other FAD-Alex figures.

Features: images resized to ``size`` x ``size`` (gray repeated to RGB), ImageNet-normalised, through
AlexNet's convolutions up to conv5 + ReLU, averaged over space -> 256 numbers per image.
Distance: ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the square root by ``scipy.linalg.sqrtm``.

Example:
    >>> import torch
    >>> a, b = torch.rand(64, 3, 32, 32), torch.rand(64, 3, 32, 32)
    >>> frechet_alexnet_distance(a, b) >= 0  # doctest: +SKIP
    True
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONV5_RELU = 12  # torchvision AlexNet ``features[:12]``: conv1 .. conv5 + ReLU, before the last max-pool

_EXTRACTORS: dict[str, torch.nn.Module] = {}


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance squared between N(mu1, sigma1) and N(mu2, sigma2)."""
    from scipy import linalg

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # singular product: nudge both covariances (as the FID code does)
        eps = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + eps) @ (sigma2 + eps))
    covmean = np.real(covmean)  # rounding leaves a tiny imaginary part
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _extractor(device: torch.device) -> torch.nn.Module:
    key = str(device)
    if key not in _EXTRACTORS:
        from ..backbones import imagenet_features

        _EXTRACTORS[key] = imagenet_features("alexnet")[:CONV5_RELU].to(device).eval()
    return _EXTRACTORS[key]


@torch.no_grad()
def alexnet_features(images: torch.Tensor | Iterable[torch.Tensor], *, size: int = 128, batch_size: int = 250,
                     device: torch.device | str = "cpu") -> np.ndarray:
    """(N, C, H, W) in [0, 1] (or an iterable of such batches) -> (N, 256) float64 AlexNet conv5 features."""
    device = torch.device(device)
    net = _extractor(device)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    batches = images.split(batch_size) if torch.is_tensor(images) else images
    out = []
    for x in batches:
        x = x.to(device).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                            align_corners=False)
        out.append(net((x - mean) / std).mean(dim=(2, 3)).double().cpu())
    return torch.cat(out).numpy()


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F) of (N, F) features."""
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_alexnet_distance(generated, real, *, size: int = 128, device: torch.device | str = "cpu") -> float:
    """FAD-Alex between two image sets, each (N, C, H, W) in [0, 1] or an iterable of batches.

    Use thousands of images per side (5,000+ for reported figures): the estimate is biased upwards
    for small N."""
    mu1, s1 = feature_statistics(alexnet_features(generated, size=size, device=device))
    mu2, s2 = feature_statistics(alexnet_features(real, size=size, device=device))
    return frechet_distance(mu1, s1, mu2, s2)
