"""Inference pipelines: user-facing objects that take images in any common type and give the same back.

Exports are lazy (``torch`` and friends load on first use):

* :class:`SuperResolver` (:mod:`restore.pipelines.super_resolution`): upscaling of any size.
* :func:`tiled_apply`, :func:`receptive_radius` (:mod:`restore.pipelines.tiling`): host-side tiling.
* :class:`Inpainter` (:mod:`restore.pipelines.inpainting`): inpainting over GAN/VAE priors.
* :class:`Sampler` (:mod:`restore.pipelines.sampling`): samples and latent interpolation.
* :class:`Projector` (:mod:`restore.pipelines.projection`): real images -> prior codes (iGAN projection).
* :mod:`restore.pipelines.priors`: the priors' defaults, loading, search budgets (:data:`SEARCH_DEFAULTS`).
* :func:`to_tensor` (:mod:`restore.convert`): PIL / numpy / tensor in, restorer back.
* :class:`InpaintResult`, :class:`SRResult` (:mod:`restore.pipelines.results`): what ``run()`` returns.

Example:
    >>> from restore.pipelines import SuperResolver  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SuperResolver": "restore.pipelines.super_resolution",
    "tiled_apply": "restore.pipelines.tiling",
    "receptive_radius": "restore.pipelines.tiling",
    "Inpainter": "restore.pipelines.inpainting",
    "Sampler": "restore.pipelines.sampling",
    "Projector": "restore.pipelines.projection",
    "to_tensor": "restore.convert",
    "InpaintResult": "restore.pipelines.results",
    "SRResult": "restore.pipelines.results",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'restore.pipelines' has no attribute {name!r}")
