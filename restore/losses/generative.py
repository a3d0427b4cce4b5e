"""Losses of the generative priors: the non-saturating GAN loss and the VAE's ELBO.

The VAE's pixel likelihood is a **discretised Gaussian** over the 256 levels of 8-bit images: the
probability of level k is the mass of N(mean, scale^2) on [k - 0.5, k + 0.5] / 255, with the two end
bins stretched to -inf / +inf. It is a proper probability mass function, so -ELBO is an upper bound on
the negative log-likelihood in nats per image, and bits per dimension = nats / (C*H*W * ln 2).

Example:
    >>> import torch
    >>> x = torch.rand(2, 1, 8, 8).mul(255).round().div(255)
    >>> nats = discretized_gaussian_nll(x, x, torch.tensor([-5.0]))
    >>> nats.shape
    torch.Size([2])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HALF_BIN = 0.5 / 255


# ----------------------------------------------------------------------------- GAN
def gan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), averaged (binary cross-entropy on logits)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)) (Goodfellow et al. 2014), averaged."""
    return F.softplus(-fake_logits).mean()


# ----------------------------------------------------------------------------- VAE
def discretized_gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood in nats per image, shape (B,), of 8-bit images ``x`` (B, C, H, W) in [0, 1]
    under a discretised Gaussian with ``mean`` (B, C, H, W) in [0, 1] and per-channel ``log_scale`` (C,)."""
    x, mean = x.float(), mean.float()
    inv_scale = torch.exp(-log_scale.float()).view(1, -1, 1, 1)
    upper = (x + HALF_BIN - mean) * inv_scale
    lower = (x - HALF_BIN - mean) * inv_scale
    log_cdf_upper = torch.special.log_ndtr(upper)           # log P(X <= x + 0.5): the bin at level 0
    log_sf_lower = torch.special.log_ndtr(-lower)          # log P(X >= x - 0.5): the bin at level 255
    # log(Phi(u) - Phi(l)) = log Phi(u) + log(1 - exp(log Phi(l) - log Phi(u))), stable for l < u;
    # for bins far in the upper tail use the mirrored form.
    mirrored = upper > 0
    a = torch.where(mirrored, -lower, upper)
    b = torch.where(mirrored, -upper, lower)
    log_a, log_b = torch.special.log_ndtr(a), torch.special.log_ndtr(b)
    log_mid = log_a + torch.log1p(-torch.exp((log_b - log_a).clamp(max=-1e-12)))
    log_prob = torch.where(x < HALF_BIN, log_cdf_upper, torch.where(x > 1 - HALF_BIN, log_sf_lower, log_mid))
    return -log_prob.flatten(1).sum(1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in nats per image, shape (B,)."""
    return 0.5 * (mu.float().pow(2) + logvar.float().exp() - 1 - logvar.float()).sum(1)


def vae_loss(x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             log_scale: torch.Tensor, beta: float = 1.0) -> dict[str, torch.Tensor]:
    """VAE objective: reconstruction NLL + beta * KL, in nats per image averaged over the batch.

    Returns ``loss`` (what is minimised), ``nll``, ``kl`` and ``neg_elbo`` (nll + kl, beta = 1, the bound)."""
    nll = discretized_gaussian_nll(x, recon, log_scale).mean()
    kl = gaussian_kl(mu, logvar).mean()
    return {"loss": nll + beta * kl, "nll": nll, "kl": kl, "neg_elbo": nll + kl}


def bits_per_dim(nats_per_image: float, dims: int) -> float:
    """Nats per image -> bits per dimension (pixel channel)."""
    return nats_per_image / (dims * math.log(2))


@torch.no_grad()
def heldout_elbo(vae, images, *, batch_size: int = 500, device: torch.device | str = "cpu") -> dict[str, float]:
    """The ELBO of ``vae`` (eval mode, one posterior sample per image, fixed seed) on an ImageSet or a
    (N, C, H, W) tensor in [0, 1] of 8-bit values: ``neg_elbo_nats`` per image, ``bits_per_dim``,
    and its ``nll_nats`` / ``kl_nats`` parts."""
    gen = torch.Generator().manual_seed(0)
    vae = vae.eval().to(device)
    n = len(images)
    totals = {"nll": 0.0, "kl": 0.0}
    for start in range(0, n, batch_size):
        idx = slice(start, min(start + batch_size, n))
        x = (images.batch(idx) if hasattr(images, "batch") else images[idx]).to(device)
        mu, logvar = vae.encode(x)
        eps = torch.randn(mu.shape, generator=gen).to(device)
        recon = vae.decode(mu + eps * (0.5 * logvar).exp())  # a real posterior sample, not the mean
        totals["nll"] += float(discretized_gaussian_nll(x, recon, vae.log_scale).sum())
        totals["kl"] += float(gaussian_kl(mu, logvar).sum())
    dims = vae.channels * vae.resolution ** 2
    neg_elbo = (totals["nll"] + totals["kl"]) / n
    return {"neg_elbo_nats": neg_elbo, "bits_per_dim": bits_per_dim(neg_elbo, dims),
            "nll_nats": totals["nll"] / n, "kl_nats": totals["kl"] / n, "images": n}
