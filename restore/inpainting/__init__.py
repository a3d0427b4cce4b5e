"""Inpainting: semantic inpainting over generative priors (Yeh et al. 2017) and classical baselines.

* :mod:`~restore.inpainting.masks`: IOPaint-convention masks -> known-pixel map ``M`` (1 = known).
* :mod:`~restore.inpainting.semantic`: importance weights, context/prior losses, batched latent search
  over a DCGAN (:func:`gan_search`) or VAE decoder (:func:`vae_search`), encoder initialisation.
* :mod:`~restore.inpainting.blending`: Poisson blending (exact sparse solve or OpenCV seamlessClone).
* :mod:`~restore.inpainting.classical`: OpenCV Telea / Navier-Stokes, scikit-image biharmonic.
* :mod:`~restore.inpainting.crop`: images of any size through a fixed-resolution prior.

The user-facing object is :class:`restore.pipelines.inpainting.Inpainter`.

Example:
    >>> from restore.inpainting import importance_weights  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "mask_to_known": "restore.inpainting.masks",
    "load_mask": "restore.inpainting.masks",
    "match_masks": "restore.inpainting.masks",
    "importance_weights": "restore.inpainting.semantic",
    "gan_search": "restore.inpainting.semantic",
    "vae_search": "restore.inpainting.semantic",
    "encoder_init": "restore.inpainting.semantic",
    "poisson_blend": "restore.inpainting.blending",
    "inpaint_classical": "restore.inpainting.classical",
    "fill_any_size": "restore.inpainting.crop",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'restore.inpainting' has no attribute {name!r}")
