"""Semantic inpainting by latent optimisation over a generative prior (Yeh et al. 2017).

Given an image ``y`` and the known-pixel map ``M`` (1 = known), search

    z* = argmin_z  ||W * (G(z) - y)||_1  +  lambda * log(1 - D(G(z)))

with Adam on ``z`` only (the networks are frozen, in eval mode, with no parameter gradients). ``W``
is the importance weighting of the context loss: for a known pixel, the fraction of hole pixels in
the ``w x w`` window around it (0 inside the hole). Many random restarts of every image run
together as one batch; per image the restart with the lowest final loss wins. ``z`` is kept in the
prior's support after every step (clipped to [-1, 1] for a uniform prior, projected onto the sphere
of radius sqrt(nz) for a Gaussian one).

The same search runs over a VAE decoder with a ``lambda * ||z||^2`` prior term instead of the
discriminator (:func:`vae_search`), and a GAN search can start from the VAE encoder's code of the
masked image (:func:`encoder_init`). With every pixel known and another data term (``fit_loss``) the
same loop projects real images onto a prior (:mod:`restore.pipelines.projection`). Losses are in the paper's units: pixel differences on the
[-1, 1] scale, summed over pixels and channels.

Images are ``(B, C, H, W)`` float in [0, 1] at the prior's resolution and channel count; the
pipeline (:mod:`restore.pipelines.inpainting`) handles other sizes and blending.

Example:
    >>> import torch
    >>> from restore import archs
    >>> from restore.inpainting.semantic import gan_search
    >>> gan = archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8)
    >>> y = torch.rand(2, 1, 32, 32); known = torch.ones(2, 1, 32, 32); known[..., 8:24, 8:24] = 0
    >>> result = gan_search(gan, y, known, steps=5, restarts=3, seed=0)
    >>> result.fill.shape, result.trace["total"].shape
    (torch.Size([2, 1, 32, 32]), torch.Size([5, 2, 3]))
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Collection

import torch
import torch.nn.functional as F
from torch import nn

#: Defaults: the paper's lambda and window; steps/restarts sized for a few seconds per 64x64 image on a CPU.
DEFAULT_LAMBDA = 0.003
DEFAULT_WINDOW = 7
DEFAULT_STEPS = 200
DEFAULT_RESTARTS = 8
DEFAULT_LR = 0.03
#: CPU searches hand freed heap pages back every this many steps (:func:`restore.device.release_host_memory`).
TRIM_EVERY = 10


def importance_weights(known: torch.Tensor, window: int = DEFAULT_WINDOW) -> torch.Tensor:
    """Importance weighting ``W`` of the context loss, ``(B, 1, H, W)`` in [0, 1].

    ``W_i = M_i * (number of hole pixels in the window around i) / window**2``. Pixels outside the
    image count as not-hole (zero padding), so the denominator is always ``window**2``.

    Args:
        known: ``(B, 1, H, W)`` known-pixel map (1 = known, 0 = hole).
        window: odd window side ``w`` (7 in the paper).
    """
    import kornia

    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    hole = 1.0 - known.float()
    fraction = kornia.filters.box_blur(hole, (window, window), border_type="constant", separable=True)
    return known.float() * fraction


def context_loss(images: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``||W * (G(z) - y)||_1`` per image, ``(N,)``, on the [-1, 1] scale as in the paper."""
    return (2.0 * weights * (images - target)).abs().flatten(1).sum(1)


def gan_prior_loss(logits: torch.Tensor, lam: float) -> torch.Tensor:
    """``lambda * log(1 - D(G(z)))`` per image from discriminator logits, stably (``-softplus``)."""
    # log(1 - sigmoid(l)) = -softplus(l): exact and finite for any logit.
    return -lam * F.softplus(logits.float())


@dataclass
class SearchResult:
    """What a latent search found, per image.

    Attributes:
        fill: ``(B, C, H, W)`` in [0, 1], the prior's image G(z*) of the best restart.
        z: ``(B, nz)`` best latent codes.
        loss: ``(B,)`` final total loss of the best restart.
        restart: ``(B,)`` index of the winning restart.
        trace: per-step losses, each ``(steps, B, restarts)`` on the CPU: ``"total"``, ``"context"``, ``"prior"``.
        snapshots: ``{s: SearchResult}``, what the same search stopped after ``s`` steps returns, for each
            ``s`` of ``snapshot_steps`` (one long search gives a whole steps-to-quality curve).
    """

    fill: torch.Tensor
    z: torch.Tensor
    loss: torch.Tensor
    restart: torch.Tensor
    trace: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)

    def best_trace(self, key: str = "total") -> torch.Tensor:
        """``(steps, B)`` per-step losses of each image's winning restart."""
        t = self.trace[key]
        return t.gather(2, self.restart.view(1, -1, 1).expand(t.shape[0], -1, 1)).squeeze(2)


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Eval mode and no parameter gradients inside the block; the previous state is restored after."""
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        yield
    finally:
        for m, training, params in saved:
            m.train(training)
            for p, flag in params:
                p.requires_grad_(flag)


def project_uniform(z: torch.Tensor) -> torch.Tensor:
    """Clip into the support of U[-1, 1]^nz (in place)."""
    return z.clamp_(-1.0, 1.0)


def project_gaussian(z: torch.Tensor) -> torch.Tensor:
    """Project onto the sphere of radius sqrt(nz), where N(0, I) mass concentrates (in place)."""
    radius = math.sqrt(z.shape[1])
    return z.mul_(radius / z.norm(dim=1, keepdim=True).clamp_min(1e-8))


class CodeAdam:
    """Adam on one tensor of codes, exactly ``torch.optim.Adam``'s default update (no weight decay,
    no amsgrad): the search needs nothing more, and the first use of ``torch.optim`` imports
    ``torch._dynamo``, ~1.7 s of a single-image ``restore inpaint`` on a CPU.

    Example:
        >>> z = torch.zeros(2, 3, requires_grad=True)
        >>> opt = CodeAdam(z, lr=0.1)
        >>> (z - 1).pow(2).sum().backward(); opt.step()
        >>> z.detach()  # Adam's first step moves every code by lr along the gradient's sign
        tensor([[0.1000, 0.1000, 0.1000],
                [0.1000, 0.1000, 0.1000]])
    """

    def __init__(self, z: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.z, self.lr, self.betas, self.eps, self.t = z, lr, betas, eps, 0
        self.m, self.v = torch.zeros_like(z), torch.zeros_like(z)

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        self.t += 1
        g = self.z.grad
        self.m.lerp_(g, 1 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self.v.sqrt() / math.sqrt(1 - b2 ** self.t)).add_(self.eps)
        self.z.addcdiv_(self.m, denom, value=-self.lr / (1 - b1 ** self.t))


def latent_search(decode: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor, known: torch.Tensor,
                  z0: torch.Tensor, *, prior_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  project: Callable[[torch.Tensor], torch.Tensor] | None, steps: int = DEFAULT_STEPS,
                  lr: float = DEFAULT_LR, window: int = DEFAULT_WINDOW, dtype: torch.dtype = torch.float32,
                  callback: Callable[[int], None] | None = None,
                  weights: torch.Tensor | None = None,
                  fit_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                  snapshot_steps: Collection[int] = (),
                  ) -> SearchResult:
    """The generic search: Adam on ``z`` for ``steps`` steps, all images x restarts in one batch.

    Args:
        decode: ``z (N, nz) -> images (N, C, H, W)`` in [0, 1] (a frozen network).
        target: ``(B, C, H, W)`` images ``y`` in [0, 1] (hole pixels are ignored).
        known: ``(B, 1, H, W)`` known-pixel map.
        z0: ``(B, K, nz)`` starting codes, K restarts per image.
        prior_loss: ``(z, images) -> (N,)`` prior term.
        project: in-place map of ``z`` back into the prior's support after every step, or ``None``.
        steps, lr, window: optimiser steps, Adam learning rate, importance-window side.
        dtype: compute dtype of the networks (autocast; losses and ``z`` stay fp32).
        callback: called with the step number after every step (progress bars).
        weights: ``(B, 1, H, W)`` pixel weights replacing the importance weighting (e.g. all ones to
            fit a whole image, as :func:`vae_guided_init` does).
        fit_loss: ``(images, targets, weights) -> (N,)`` data term replacing :func:`context_loss`
            (targets and weights repeated per restart; e.g. pixel + LPIPS for projection,
            :mod:`restore.pipelines.projection`); traced as ``"context"``.
        snapshot_steps: step counts ``s <= steps`` whose result (the best restart after ``s`` updates)
            is kept in ``SearchResult.snapshots``; Adam has no schedule, so it equals an ``s``-step search.
            Its one caller is ``benchmarks/inpaint_grid.py`` (the steps x restarts grid behind
            :data:`restore.pipelines.priors.SEARCH_DEFAULTS`: a whole steps curve for the cost of its longest
            search). It stays here rather than as a general per-step hook because a snapshot needs the
            loop's own images and losses of each step (so it costs an argmin, not a decode) and must equal
            the shorter search exactly (``tests/test_inpainting.py::test_snapshots_equal_shorter_searches``);
            a hook would expose that internal state for this one use. Empty (the default): no cost.
    """
    from ..device import autocast, release_host_memory

    b, k, nz = z0.shape
    device = target.device
    weights = (importance_weights(known, window) if weights is None else weights.to(device)).repeat_interleave(k, 0)
    y = target.repeat_interleave(k, 0)
    z = z0.reshape(b * k, nz).detach().clone().to(device)
    if project is not None:
        project(z)
    z.requires_grad_(True)
    opt = CodeAdam(z, lr=lr)
    totals, contexts, priors = [], [], []
    fit_loss = context_loss if fit_loss is None else fit_loss

    def evaluate(codes):
        with autocast(device, dtype):
            images = decode(codes)
        images = images.float()
        ctx = fit_loss(images, y, weights)
        pri = prior_loss(codes, images)
        return images, ctx, pri

    def best_of(images, total, codes) -> SearchResult:
        final = total.detach().view(b, k)
        best = final.argmin(1)
        pick = torch.arange(b, device=device) * k + best
        return SearchResult(fill=images[pick].detach(), z=codes.detach()[pick],
                            loss=final.gather(1, best[:, None])[:, 0], restart=best.cpu())

    snapshots = {}
    for step in range(steps):
        images, ctx, pri = evaluate(z)
        total = ctx + pri
        if step in snapshot_steps:  # z after `step` updates: an s-step search would stop here
            snapshots[step] = best_of(images, total, z)
        z.grad = None
        # Restarts are independent (networks in eval mode), so the sum's gradient is each one's own.
        total.sum().backward()
        opt.step()
        if project is not None:
            with torch.no_grad():
                project(z)
        totals.append(total.detach())
        contexts.append(ctx.detach())
        priors.append(pri.detach())
        if device.type == "cpu" and (step + 1) % TRIM_EVERY == 0:
            release_host_memory()  # else glibc keeps each step's freed buffers: tens of GB over 1000 steps
        if callback is not None:
            callback(step + 1)

    with torch.no_grad():
        images, ctx, pri = evaluate(z)
        result = best_of(images, ctx + pri, z)
    result.trace = {name: (torch.stack(vals).view(-1, b, k).cpu() if vals else torch.zeros(0, b, k))
                    for name, vals in (("total", totals), ("context", contexts), ("prior", priors))}
    if steps in snapshot_steps:
        snapshots[steps] = result
    for s, snap in snapshots.items():
        snap.trace = {name: t[:s] for name, t in result.trace.items()}
    result.snapshots = dict(sorted(snapshots.items()))
    return result


def _start_codes(sample: Callable, b: int, k: int, seed: int | None, device, *,
                 restart_major: bool = False) -> torch.Tensor:
    """``(B, K, nz)`` prior samples. ``restart_major``: drawn restart by restart, so restart ``r`` of
    image ``i`` is the same code for any ``K > r`` (more restarts only add starts)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    if restart_major:
        return sample(b * k, generator=gen).view(k, b, -1).transpose(0, 1).to(device)
    return sample(b * k, generator=gen).view(b, k, -1).to(device)


def codes_around(z_init: torch.Tensor, k: int, seed: int | None, noise: float, device) -> torch.Tensor:
    """``(B, K, nz)`` starts around ``z_init`` ``(B, nz)``: restart 0 exactly there, the others plus
    Gaussian noise of std ``noise``."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    offsets = torch.randn(z_init.shape[0], k, z_init.shape[1], generator=gen).to(device) * noise
    offsets[:, 0] = 0
    return z_init.to(device)[:, None] + offsets


def gan_search(gan: nn.Module, target: torch.Tensor, known: torch.Tensor, *, steps: int = DEFAULT_STEPS,
               restarts: int = DEFAULT_RESTARTS, lam: float = DEFAULT_LAMBDA, lr: float = DEFAULT_LR,
               window: int = DEFAULT_WINDOW, seed: int | None = 0, z_init: torch.Tensor | None = None,
               init_noise: float = 0.1, dtype: torch.dtype = torch.float32, callback=None,
               snapshot_steps: Collection[int] = ()) -> SearchResult:
    """Yeh et al.'s search over a DCGAN (:class:`restore.archs.dcgan.DCGAN`).

    Args:
        gan: has ``generate(z) -> [0, 1]``, ``discriminate(x in [0, 1]) -> logits``, ``nz``, ``prior``.
        target, known: ``(B, C, H, W)`` in [0, 1] and ``(B, 1, H, W)`` (1 = known).
        steps, restarts, lam, lr, window, seed: the search's settings (``lam`` weighs the prior loss).
        z_init: ``(B, nz)`` starting codes (e.g. :func:`encoder_init`); restarts add ``init_noise``
            Gaussian noise to it (the first restart starts exactly there). ``None``: samples of the prior.
    """
    device = target.device
    b, k = target.shape[0], restarts
    if z_init is None:
        z0 = _start_codes(gan.sample_latent, b, k, seed, device)
    else:
        z0 = codes_around(z_init, k, seed, init_noise, device)
    project = project_uniform if gan.prior == "uniform" else project_gaussian
    with frozen(gan):
        return latent_search(gan.generate, target, known, z0,
                             prior_loss=lambda z, images: gan_prior_loss(gan.discriminate(images), lam),
                             project=project, steps=steps, lr=lr, window=window, dtype=dtype, callback=callback,
                             snapshot_steps=snapshot_steps)


def vae_search(vae: nn.Module, target: torch.Tensor, known: torch.Tensor, *, steps: int = DEFAULT_STEPS,
               restarts: int = DEFAULT_RESTARTS, lam: float = DEFAULT_LAMBDA, lr: float = DEFAULT_LR,
               window: int = DEFAULT_WINDOW, seed: int | None = 0, init: str = "random",
               init_noise: float = 0.1, dtype: torch.dtype = torch.float32, callback=None,
               snapshot_steps: Collection[int] = ()) -> SearchResult:
    """The same search over a VAE decoder with a ``lam * ||z||^2`` prior term (no projection).

    ``init="encoder"`` starts every restart at the encoder's code of the masked image (plus
    ``init_noise`` noise, the first restart exactly there); ``"random"`` samples N(0, I).
    """
    device = target.device
    b, k = target.shape[0], restarts
    if init == "encoder":
        z0 = codes_around(encoder_init(vae, target, known), k, seed, init_noise, device)
    elif init == "random":
        z0 = _start_codes(vae.sample_latent, b, k, seed, device)
    else:
        raise ValueError(f"init must be 'random' or 'encoder', got {init!r}")
    with frozen(vae):
        return latent_search(vae.decode, target, known, z0,
                             prior_loss=lambda z, images: lam * z.float().pow(2).sum(1),
                             project=None, steps=steps, lr=lr, window=window, dtype=dtype, callback=callback,
                             snapshot_steps=snapshot_steps)


@torch.no_grad()
def encoder_init(vae: nn.Module, target: torch.Tensor, known: torch.Tensor,
                 prior: str = "gaussian") -> torch.Tensor:
    """The VAE encoder's mean code ``(B, nz)`` for the masked image.

    The hole is first filled with the mean of the known pixels (the encoder never saw holes). For a
    GAN with a uniform prior (``prior="uniform"``) the N(0, 1) code is mapped through the normal CDF
    onto U[-1, 1], so the start follows the GAN prior's distribution.
    """
    with frozen(vae):
        known = known.float()
        mean = (target * known).flatten(2).sum(2) / known.flatten(2).sum(2).clamp_min(1)
        filled = target * known + mean[..., None, None] * (1 - known)
        mu, _ = vae.encode(filled)
    if prior == "uniform":
        mu = torch.special.ndtr(mu) * 2 - 1
    return mu.float()


def gan_start_from_vae(gan: nn.Module, vae: nn.Module, target: torch.Tensor, known: torch.Tensor, *,
                       steps: int, restarts: int = DEFAULT_RESTARTS, lr: float = DEFAULT_LR,
                       seed: int | None = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``(B, nz)`` GAN code a ``gan-vae-init`` search of ``steps`` steps starts from: the VAE
    encoder's code when the latent sizes match (:func:`encoder_init`), else a GAN code fitted to the
    VAE's completion in ``steps // 4`` steps of its own (:func:`vae_guided_init`)."""
    if gan.nz == vae.nz:
        return encoder_init(vae, target, known, prior=gan.prior)
    return vae_guided_init(gan, vae, target, known, steps=max(1, steps // 4), restarts=restarts, lr=lr,
                           seed=seed, dtype=dtype)


def vae_guided_init(gan: nn.Module, vae: nn.Module, target: torch.Tensor, known: torch.Tensor, *,
                    steps: int = 50, restarts: int = DEFAULT_RESTARTS, lr: float = DEFAULT_LR,
                    seed: int | None = 0, dtype: torch.dtype = torch.float32,
                    keep_known: bool = True) -> torch.Tensor:
    """A GAN code ``(B, nz)`` that reproduces the VAE's completion of the masked image.

    For a VAE and GAN with different latent spaces (sizes), the encoder's code cannot start the GAN
    search directly; its decoded image can: the VAE's guess (known pixels kept) is fitted over the
    whole image by a short GAN latent search (no prior term, ``steps`` steps, best of ``restarts``).
    ``keep_known=False`` fits the VAE's reconstruction alone (projection, where every pixel is known).
    """
    with frozen(vae):
        mu = encoder_init(vae, target, known)
        guess = vae.decode(mu).float()
        if keep_known:
            guess = known * target + (1 - known) * guess
    z0 = _start_codes(gan.sample_latent, target.shape[0], restarts, seed, target.device)
    project = project_uniform if gan.prior == "uniform" else project_gaussian
    with frozen(gan):
        fit = latent_search(gan.generate, guess, known, z0, prior_loss=lambda z, images: images.new_zeros(len(images)),
                            project=project, steps=steps, lr=lr, dtype=dtype, weights=torch.ones_like(known))
    return fit.z
