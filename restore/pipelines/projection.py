"""Projection of real images onto a generative prior: ``z* = argmin_z L(x, G(z))`` (Zhu et al. 2016, iGAN).

The inverse of sampling: find the code whose image reproduces a given one, the seed of iGAN's
editing and of interpolation between two real images (``restore interpolate MODEL --between a b``).
It is the inpainting search of :mod:`restore.inpainting.semantic` with every pixel known: Adam on
``z`` only (frozen networks), many restarts per image in one batch (the best by final loss wins),
``z`` kept in the prior's support after every step (clipped to [-1, 1] for a uniform DCGAN prior,
on the sphere of radius sqrt(nz) for a Gaussian one; a VAE decoder's code is left free), the
networks under autocast at ``precision`` while codes and losses stay fp32. The loss is

    L(x, G(z)) = mean |2x - 2G(z)|  (or the mean square; pixels on the [-1, 1] scale)
                 + lpips_weight * LPIPS_alex(x, G(z))

with no prior term. ``init="encoder"`` starts from a VAE encoder's code of the image (restart 0
exactly there, the others with ``init_noise`` Gaussian noise): the prior's own encoder for a VAE
prior; for a DCGAN the companion VAE's (``x-dcgan`` -> ``x-vae``), mapped onto the uniform prior
through the normal CDF when the latent sizes agree, otherwise the GAN code fitted in ``steps // 4``
extra steps to the VAE's reconstruction (:func:`restore.inpainting.semantic.vae_guided_init`).

Images of any size and channel count are served: each is resized (antialiased bicubic, aspect not
kept) to the prior's square resolution and brought to its channels (luma for a gray prior, gray
replicated for an RGB one); the reconstruction comes back at the prior's resolution in the input's
channels and type. Restart ``r`` of an image starts from the same code whatever the number of
restarts, so more restarts never end worse (for the same seed).

Example:
    >>> import torch
    >>> from restore import archs
    >>> from restore.pipelines.projection import Projector
    >>> gan = archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8)
    >>> projector = Projector(gan, steps=20, restarts=2, lpips_weight=0, device="cpu", precision="fp32")
    >>> x = torch.rand(2, 3, 40, 48)                  # any size: resized to 32x32, RGB through the luma
    >>> recon = projector(x)
    >>> recon.shape, projector.last_codes.shape, projector.last_loss.shape, projector.last_trace.shape
    (torch.Size([2, 3, 32, 32]), torch.Size([2, 16]), torch.Size([2]), torch.Size([2, 20]))
    >>> bool((projector.last_trace[:, -1] < projector.last_trace[:, 0]).all())
    True
"""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn

from ..device import precision_name, resolve_device, resolve_precision
from ..errors import RestoreError
from ..inpainting import semantic
from .priors import companion_vae, default_model, is_spherical, load_prior, search_budget, search_network, to_channels
from .sampling import generate

INITS = ("random", "encoder")
PIXEL_LOSSES = ("l1", "mse")
#: Default weight of LPIPS against the pixel loss (both are ~0.1-0.5 for a fair reconstruction).
DEFAULT_LPIPS_WEIGHT = 1.0


def default_prior() -> str:
    """The registry name used when none is given: the shipped default GAN (:func:`default_model`), else VAE."""
    from ..registry import list_models

    if not list_models("gan") and list_models("vae"):
        return default_model("vae")
    if not list_models("gan"):
        raise RestoreError("no GAN or VAE prior is shipped yet (train one with `restore train dcgan`, "
                           "or pass a .safetensors path)")
    return default_model("gan")


def pixel_loss(images: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean absolute (``"l1"``) or squared (``"mse"``) difference per image, ``(N,)``, on the [-1, 1] scale."""
    diff = 2.0 * (images - target)
    return (diff.abs() if kind == "l1" else diff.square()).flatten(1).mean(1)


def projection_search(prior: nn.Module, target: torch.Tensor, *, steps: int = semantic.DEFAULT_STEPS,
                      restarts: int = semantic.DEFAULT_RESTARTS, lr: float = semantic.DEFAULT_LR,
                      seed: int | None = 0, pixel: str = "l1", lpips_weight: float = DEFAULT_LPIPS_WEIGHT,
                      lpips_model: nn.Module | None = None, z_init: torch.Tensor | None = None,
                      init_noise: float = 0.1, dtype: torch.dtype = torch.float32,
                      callback: Callable[[int], None] | None = None) -> semantic.SearchResult:
    """The latent search fitting ``prior`` (a DCGAN or VAE) to whole images ``target``.

    Args:
        prior: has ``generate(z) -> [0, 1]``, ``sample_latent``, ``nz`` (and ``prior`` for a DCGAN).
        target: ``(B, C, H, W)`` in [0, 1] at the prior's resolution and channels, on its device.
        pixel, lpips_weight: the loss (see the module docstring); ``lpips_model`` is a
            :class:`restore.metrics.LPIPS` (needed when ``lpips_weight > 0``).
        z_init: ``(B, nz)`` starting codes (restart 0 exactly, the others plus ``init_noise`` noise);
            ``None``: prior samples drawn restart by restart.

    Returns:
        a :class:`restore.inpainting.semantic.SearchResult` (``trace["context"]`` is the loss,
        ``trace["prior"]`` zeros).
    """
    if pixel not in PIXEL_LOSSES:
        raise RestoreError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, got {pixel!r}")
    if lpips_weight > 0 and lpips_model is None:
        raise ValueError("lpips_weight > 0 needs an lpips_model")
    device = target.device
    b, k = target.shape[0], restarts
    if z_init is None:
        z0 = semantic._start_codes(prior.sample_latent, b, k, seed, device, restart_major=True)
    else:
        z0 = semantic.codes_around(z_init, k, seed, init_noise, device)
    if hasattr(prior, "encode"):  # a VAE decoder: the code is free
        project = None
    else:
        project = semantic.project_uniform if prior.prior == "uniform" else semantic.project_gaussian

    def fit(images, y, weights):
        loss = pixel_loss(images, y, pixel)
        if lpips_weight > 0:
            loss = loss + lpips_weight * lpips_model(images, y)
        return loss

    known = torch.ones_like(target[:, :1])
    with semantic.frozen(prior):
        return semantic.latent_search(prior.generate, target, known, z0,
                                      prior_loss=lambda z, images: images.new_zeros(len(images)),
                                      project=project, steps=steps, lr=lr, dtype=dtype, callback=callback,
                                      weights=known, fit_loss=fit)


class Projector:
    """Reconstruct images by a code of a DCGAN or VAE prior; image -> same type back at the prior's size.

    Args:
        prior: a :class:`restore.archs.dcgan.DCGAN` or :class:`restore.archs.vae.VAE`.
        vae: the encoder for ``init="encoder"`` over a DCGAN (same resolution and channels); a VAE
            prior uses its own encoder.
        steps, restarts: Adam steps and restarts (``None``: by device, as
            :data:`restore.pipelines.priors.SEARCH_DEFAULTS` ``["projection"]``: 100 x 4 on a CPU, 1000 x 16
            on CUDA).
        lpips_weight: weight of LPIPS (alex) in the loss; 0 leaves LPIPS out (never loaded).
        pixel: ``"l1"`` (default) or ``"mse"``, the mean over pixels on the [-1, 1] scale.
        init: ``"random"`` (prior samples) or ``"encoder"``.
        lr, init_noise: Adam learning rate; noise of the encoder start's restarts 1..K-1.
        device, precision: where and in what the networks run (codes and losses stay fp32).
        seed: seeds the starting codes (``None``: not reproducible).
        progress: a progress bar over the steps.

    Attributes:
        resolution, channels, nz: the prior's image side, channel count and code size.
        spherical: whether interpolation between codes should be spherical (a Gaussian prior).
        last_codes: ``(B, nz)`` float32 best code per image of the last call (on the CPU).
        last_loss: ``(B,)`` its final loss.
        last_trace: ``(B, steps)`` per-step loss of each image's winning restart (step 0 = at its start).
    """

    def __init__(self, prior: nn.Module, *, vae: nn.Module | None = None, steps: int | None = None,
                 restarts: int | None = None, lpips_weight: float = DEFAULT_LPIPS_WEIGHT, pixel: str = "l1",
                 init: str = "random", lr: float = semantic.DEFAULT_LR, init_noise: float = 0.1,
                 device: str | torch.device = "auto", precision: str = "auto", seed: int | None = 0,
                 progress: bool = False, name: str | None = None):
        if init not in INITS:
            raise RestoreError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        if pixel not in PIXEL_LOSSES:
            raise RestoreError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, got {pixel!r}")
        if not (lpips_weight >= 0 and lr > 0 and init_noise >= 0):  # NaN fails too
            raise RestoreError(f"need lpips_weight >= 0, lr > 0 and init_noise >= 0 "
                               f"(got {lpips_weight}, {lr}, {init_noise})")
        self.device = resolve_device(device)
        self.steps, self.restarts = search_budget(self.device, steps, restarts, "projection")
        self.prior = search_network(prior, self.device)
        self.is_vae = hasattr(prior, "encode")
        if init == "encoder" and not self.is_vae:
            if vae is None:
                raise RestoreError("init='encoder' over a GAN prior needs a VAE (vae=...)")
            if (vae.resolution, vae.channels) != (prior.resolution, prior.channels):
                raise RestoreError(f"the VAE ({vae.channels}x{vae.resolution}x{vae.resolution}) does not fit the "
                                   f"GAN prior ({prior.channels}x{prior.resolution}x{prior.resolution})")
        self.vae = search_network(vae, self.device) if vae is not None and not self.is_vae else None
        self.resolution, self.channels, self.nz = prior.resolution, prior.channels, prior.nz
        self.spherical = is_spherical(prior)
        self.lpips_weight, self.pixel, self.init = float(lpips_weight), pixel, init
        self.lr, self.init_noise, self.seed, self.progress = float(lr), float(init_noise), seed, progress
        self.dtype = resolve_precision(precision, self.device)
        self.name = name or type(prior).__name__.lower()
        self._lpips: nn.Module | None = None
        self.last_codes = self.last_loss = self.last_trace = None

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, *,
                        vae: str | os.PathLike | None = None, init: str = "random", **kwargs) -> "Projector":
        """Load the prior (task ``gan`` or ``vae``) by registry name or ``.safetensors`` path.

        ``None``: :func:`default_prior`. With ``init="encoder"`` over a GAN, ``vae``
        names the encoder (default: the VAE trained on the GAN's data).

        Raises:
            RestoreError: unknown model (the message lists the shipped ones), tampered weights, wrong kind.
        """
        from ..registry import load_model

        if init not in INITS:
            raise RestoreError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        name_or_path = name_or_path or default_prior()
        model, info = load_model(name_or_path)
        if info["arch"] not in ("dcgan", "vae"):
            raise RestoreError(f"{name_or_path}: a {info['arch']} model cannot be a projection prior "
                               f"(need dcgan or vae)")
        name, encoder = info["name"], None
        if init == "encoder" and info["arch"] == "dcgan":
            encoder, vae_name = load_prior(vae or companion_vae(name), "vae")
            name = f"{name}+{vae_name}"
        return cls(model, vae=encoder, init=init, name=name, **kwargs)

    # ------------------------------------------------------------------ public entry points
    def __call__(self, image):
        """Project ``image`` (PIL, numpy or tensor, any size); returns the reconstruction in ``image``'s type.

        The result is at the prior's resolution (``(res, res)``) with the input's channels; alpha is
        resized and passed through. Sets :attr:`last_codes`, :attr:`last_loss`, :attr:`last_trace`.
        """
        from ..data.degradation import resize
        from ..convert import to_tensor

        colour, alpha, restore_type = to_tensor(image)
        out = self.project(colour)
        if alpha is not None:
            alpha = resize(alpha.float(), self.resolution, "bicubic")
        return restore_type(out, alpha)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] -> ``(B, C, res, res)`` on the host: what the prior is fitted to
        (before the channel change), antialiased bicubic."""
        from ..data.degradation import resize

        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise RestoreError(f"expected (B, 1 or 3, H, W) images, got {tuple(images.shape)}")
        return resize(images.detach().float().cpu(), self.resolution, "bicubic")

    def project(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] (C = 1 or 3, any size) -> reconstructions ``(B, C, res, res)`` on the host."""
        x = self.prepare(images)
        y = to_channels(x, self.channels).contiguous().to(self.device)
        z_init = self._encoder_codes(y) if self.init == "encoder" else None
        bar = None
        callback = None
        if self.progress and self.steps:
            from ..device import progress

            bar = progress(self.steps, desc="project")
            callback = lambda step: bar.update(1)  # noqa: E731
        try:
            result = projection_search(self.prior, y, steps=self.steps, restarts=self.restarts, lr=self.lr,
                                       seed=self.seed, pixel=self.pixel, lpips_weight=self.lpips_weight,
                                       lpips_model=self._lpips_model() if self.lpips_weight > 0 else None,
                                       z_init=z_init, init_noise=self.init_noise, dtype=self.dtype,
                                       callback=callback)
        finally:
            if bar is not None:
                bar.close()
        self.last_codes = result.z.float().cpu()
        self.last_loss = result.loss.float().cpu()
        self.last_trace = result.best_trace("total").T.contiguous()
        return to_channels(result.fill.float().cpu(), images.shape[1]).clamp(0, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``(N, nz)`` -> the prior's images ``(N, channels, res, res)`` in [0, 1] on the host."""
        return generate(self.prior, codes.float().to(self.device), self.device, self.dtype)

    # ------------------------------------------------------------------ internals
    def _encoder_codes(self, y: torch.Tensor) -> torch.Tensor:
        """The encoder start ``(B, nz)`` for images ``y`` at the prior's resolution and channels."""
        known = torch.ones_like(y[:, :1])
        if self.is_vae:
            return semantic.encoder_init(self.prior, y, known)
        if self.vae.nz == self.nz:
            return semantic.encoder_init(self.vae, y, known, prior=self.prior.prior)
        return semantic.vae_guided_init(self.prior, self.vae, y, known, steps=max(1, self.steps // 4),
                                        restarts=self.restarts, lr=self.lr, seed=self.seed, dtype=self.dtype,
                                        keep_known=False)

    def _lpips_model(self) -> nn.Module:
        if self._lpips is None:
            from ..metrics import LPIPS

            self._lpips = LPIPS("alex").to(self.device)
        return self._lpips

    def __repr__(self) -> str:
        return (f"Projector(model={self.name!r}, steps={self.steps}, restarts={self.restarts}, "
                f"init={self.init!r}, pixel={self.pixel!r}, lpips_weight={self.lpips_weight}, "
                f"device={self.device}, precision={precision_name(self.dtype)})")
