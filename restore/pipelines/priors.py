"""The generative priors that searches run over: which one to load, how to load it, how long to search.

Shared by inpainting (:mod:`restore.pipelines.inpainting`), projection (:mod:`restore.pipelines.projection`)
and the front ends: the default prior of a task (:func:`default_model`, :data:`PREFERRED`), a GAN's companion
VAE (:func:`companion_vae`), loading with a check of the architecture (:func:`load_prior`), the network copy
a search runs (:func:`search_network`), the search's steps x restarts by its start and the device
(:data:`SEARCH_DEFAULTS`, :func:`search_budget`), and images brought to a prior's channel count
(:func:`to_channels`) or its latent geometry (:func:`is_spherical`).

Example:
    >>> import torch
    >>> from restore.pipelines.priors import search_budget, to_channels
    >>> search_budget(torch.device("cpu"), None, None, "encoder"), search_budget(torch.device("cpu"), 20, None)
    ((50, 1), (20, 4))
    >>> to_channels(torch.rand(2, 3, 8, 8), 1).shape
    torch.Size([2, 1, 8, 8])
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import RestoreError

__all__ = ["SEARCH_DEFAULTS", "PREFERRED", "default_model", "companion_vae", "load_prior", "search_network",
           "search_budget", "to_channels", "is_spherical"]

#: (steps, restarts) of a latent search by its start and the device type. On a CPU the steps x restarts grid's
#: picks on 200 held-out faces, centre hole (benchmarks/results/inpaint_faces_grid.json, the cheapest cell within
#: 5% of the best LPIPS, 200 x 4 random at 0.0488): from an encoder's start 50 x 1 (0.0507 at 0.21 s/image
#: in a batch), from random starts 50 x 4 (0.0509 at 0.73 s). Projection (every pixel known) keeps 100 x 4, the
#: setting its reconstruction figures were measured at. GPU values: the paper's regime, not measured here.
SEARCH_DEFAULTS = {
    "random": {"cpu": (50, 4), "cuda": (1000, 16), "mps": (300, 8)},
    "encoder": {"cpu": (50, 1), "cuda": (1000, 16), "mps": (300, 8)},
    "projection": {"cpu": (100, 4), "cuda": (1000, 16), "mps": (300, 8)},
}
#: Registry names preferred when no model is named (first one shipped wins): with ``--method gan`` and no
#: ``--model``, the face prior; ``auto`` chooses by the image
#: (:class:`restore.pipelines.inpainting.AutoInpainter`).
PREFERRED = {"gan": ("faces64-dcgan", "fashion-dcgan"), "vae": ("faces64-vae", "fashion-vae")}


def default_model(task: str) -> str:
    """The registry name used when none is given: the first shipped of :data:`PREFERRED`, else any."""
    from ..registry import list_models

    shipped = [e.name for e in list_models(task)]
    for name in PREFERRED.get(task, ()):
        if name in shipped:
            return name
    if shipped:
        return shipped[0]
    raise RestoreError(f"no {task} model is shipped yet (train one with `restore train "
                       f"{'dcgan' if task == 'gan' else 'vae'}`, or pass a .safetensors path)")


def companion_vae(gan_name: str) -> str:
    """The VAE trained on the same data as a registered GAN (``x-dcgan`` -> ``x-vae``), else the default."""
    from ..registry import list_models

    guess = gan_name.replace("-dcgan", "-vae")
    return guess if guess in {e.name for e in list_models("vae")} else default_model("vae")


def load_prior(name_or_path, task: str) -> tuple[nn.Module, str]:
    """``(model, registry name)`` of a ``"gan"`` (DCGAN) or ``"vae"`` prior; ``None``: the shipped default."""
    from ..registry import load_model

    name_or_path = name_or_path or default_model(task)
    model, info = load_model(name_or_path, task=task)
    wanted = {"gan": "dcgan", "vae": "vae"}[task]
    if info["arch"] != wanted:
        raise RestoreError(f"{name_or_path}: a {info['arch']} model cannot serve as a {task} prior "
                           f"(expected {wanted})")
    return model, info["name"]


def search_network(model: nn.Module, device: torch.device) -> nn.Module:
    """The copy of a prior that a latent search runs: eval mode, BatchNorm folded into the convolutions
    (:func:`restore.archs.fusion.fold_batchnorm`; the faces64 search step is ~14% faster in bf16) and
    channels_last, oneDNN's fast layout (~15% more); the caller's ``model`` is left as it was."""
    from ..archs.fusion import fold_batchnorm

    return fold_batchnorm(copy.deepcopy(model)).to(device, memory_format=torch.channels_last)


def search_budget(device: torch.device, steps: int | None, restarts: int | None,
                  start: str = "random") -> tuple[int, int]:
    """``(steps, restarts)`` of a latent search: the given ones, else :data:`SEARCH_DEFAULTS` for the search's
    ``start`` (``"random"``, ``"encoder"`` or ``"projection"``) and the device."""
    table = SEARCH_DEFAULTS[start]
    default_steps, default_restarts = table.get(device.type, table["cpu"])
    steps = int(default_steps if steps is None else steps)
    restarts = int(default_restarts if restarts is None else restarts)
    if steps < 0 or restarts < 1:
        raise RestoreError(f"steps must be >= 0 and restarts >= 1 (got {steps}, {restarts})")
    return steps, restarts


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``(B, C, H, W)`` brought to a prior's ``channels``: RGB -> gray through the luma (kornia), gray -> RGB
    replicated (a view); unchanged when they already agree."""
    import kornia

    if x.shape[1] == channels:
        return x
    if channels == 1:
        return kornia.color.rgb_to_grayscale(x)
    return x.expand(-1, 3, -1, -1)


def is_spherical(model: nn.Module) -> bool:
    """Whether a prior's codes are Gaussian (mass near a sphere: interpolate by slerp) rather than uniform."""
    return getattr(model, "prior", "gaussian") == "gaussian"
