"""Inpainting: fill the holes of images of any size and type, with a generative prior or a classical method.

:class:`Inpainter` runs the semantic search of Yeh et al. (2017) over a DCGAN (``"gan"``), over a VAE
decoder (``"vae"``), or over a DCGAN started from the VAE encoder's code (``"gan-vae-init"``; when
the latent sizes differ, from a GAN code fitted in ``steps // 4`` extra steps to the VAE's completion), or a
classical baseline (``"telea"``, ``"ns"``, ``"biharmonic"``; no model needed). The fill is Poisson
blended into the hole (``blend="poisson"``) and outside the hole the output equals the input exactly.

Masks follow the IOPaint convention (white / non-zero = hole; see :mod:`restore.inpainting.masks`).

Which images a prior serves: any size (a square crop around the hole is resized to the prior's
resolution, see :mod:`restore.inpainting.crop`) and any channel count: a gray prior fills an RGB
image through its luma (Poisson blending takes the colour from the hole's border), an RGB prior fills a
gray image through a replicated gray and gives the luma back. Alpha is passed through untouched.

Defaults depend on the device and the search's start (:data:`restore.pipelines.priors.SEARCH_DEFAULTS`):
on a CPU ``steps=50, restarts=4`` from random starts and ``steps=50, restarts=1`` from an encoder's start
(``gan-vae-init``) (0.77 and 0.23 s per 64x64 face in batches of 50 on a 2-core CPU), on CUDA ``steps=1000,
restarts=16``.

Example:
    >>> import numpy as np
    >>> from restore.pipelines.inpainting import Inpainter
    >>> image = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    >>> mask = np.zeros((24, 24), np.uint8); mask[8:16, 8:16] = 255
    >>> out = Inpainter(method="telea")(image, mask)
    >>> out.dtype, out.shape, bool((out[:8] == image[:8]).all())
    (dtype('uint8'), (24, 24, 3), True)
"""

from __future__ import annotations

import os
import time
from typing import Callable

import torch
from torch import nn

from ..device import precision_name, resolve_device, resolve_precision
from ..errors import RestoreError
from ..inpainting import blending, classical, crop, masks, semantic
from ..inpainting.methods import METHODS
# Prior loading, search defaults and budgets live in .priors; imported here under their names too
# (``from restore.pipelines.inpainting import SEARCH_DEFAULTS, load_prior`` keeps working).
from .priors import (PREFERRED, SEARCH_DEFAULTS, companion_vae, default_model, load_prior,  # noqa: F401
                     search_budget, search_network, to_channels)
from .results import InpaintResult

BLENDS = ("poisson", "none")
#: The priors ``auto`` uses, by domain. Faces search from the face VAE's start (``gan-vae-init``) when it is
#: shipped: on the grid it reaches a random start's LPIPS in a third of the time (50 x 1 at 0.0507, 0.21 s/image,
#: against 50 x 4 at 0.0509, 0.73 s).
FACE_PRIOR, FACE_VAE, FASHION_PRIOR = "faces64-dcgan", "faces64-vae", "fashion-dcgan"
#: ``auto``'s classical methods. Biharmonic on scattered pixels (1,000 held-out faces, 80% missing: LPIPS 0.098
#: vs NS 0.124, Telea 0.171; benchmarks/results/inpaint_faces_classical.json). For holes, OpenCV contrib's
#: frequency-selective reconstruction (``fsr-fast``) where the irregular-mask benchmark measured it best
#: (benchmarks/results/inpaint_irregular.json: holes up to :data:`FSR_MAX_HOLE_RATIO` of the image), else Telea
#: (larger holes, where it is as good or better, and holes too big for fsr-fast's time: :data:`FSR_MAX_HOLE_PIXELS`).
CLASSICAL_FOR_HOLES, CLASSICAL_FOR_SCATTERED, CLASSICAL_FOR_SMALLER_HOLES = "telea", "biharmonic", "fsr-fast"
FSR_MAX_HOLE_RATIO = 0.5
FSR_MAX_HOLE_PIXELS = 300_000
#: A mask is "scattered" (missing pixels, scratches) when 90% of its hole pixels have a known pixel within
#: this distance (px); in a block or a centre hole most are far from one.
SCATTERED_DISTANCE = 2.0


def _checked_inputs(target: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, 1|3, H, W)`` images and their ``(B, 1, H, W)`` known map checked, as float on the host."""
    if target.dim() != 4 or target.shape[1] not in (1, 3):
        raise RestoreError(f"expected (B, 1 or 3, H, W) images, got {tuple(target.shape)}")
    if known.shape[0] != target.shape[0] or known.shape[-2:] != target.shape[-2:]:
        raise RestoreError(f"mask {tuple(known.shape)} does not fit images {tuple(target.shape)}")
    target, known = target.float().cpu(), (known > 0.5).float().cpu()
    for i in range(known.shape[0]):
        masks.check_known(known[i], name=f"mask of image {i}")
    return target, known


class BaseInpainter:
    """What every inpainter offers (:class:`Inpainter`, :class:`AutoInpainter`): ``(image, mask)`` -> the same
    type back, :meth:`run` for the image with how it was made, and the tensor-level :meth:`inpaint`.

    Example:
        >>> import numpy as np
        >>> image = np.full((24, 24, 3), 90, np.uint8); mask = np.zeros((24, 24), np.uint8); mask[8:16, 8:16] = 255
        >>> result = AutoInpainter().run(image, mask)
        >>> result.image.shape, result.method, result.model
        ((24, 24, 3), 'fsr-fast', None)
        >>> result.reason
        'no face around the hole, not a Fashion-MNIST-sized gray image: the best classical method for holes up to 50% of the image'
    """

    method: str
    name: str
    last_info: list[dict]
    last_trace: dict

    def inpaint(self, target: torch.Tensor, known: torch.Tensor,
                boxes: list[crop.CropBox | None] | None = None) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] and known map ``(B, 1, H, W)`` -> inpainted ``(B, C, H, W)`` on the host."""
        raise NotImplementedError

    def __call__(self, image, mask, *, invert_mask: bool = False):
        """Inpaint ``image`` (PIL, numpy or tensor) where ``mask`` marks the hole; returns ``image``'s type.

        ``mask`` (PIL, numpy, tensor) follows the IOPaint convention and is resized (nearest) to the image.
        """
        return self.run(image, mask, invert_mask=invert_mask).image

    def run(self, image, mask, *, invert_mask: bool = False) -> InpaintResult:
        """As ``__call__``, returning a :class:`restore.pipelines.results.InpaintResult`: the image (its type
        preserved), per image the method, prior and ``auto``'s reason, the search's trace and the seconds."""
        from ..convert import to_tensor

        colour, alpha, restore_type = to_tensor(image)
        known = masks.mask_to_known(mask, tuple(colour.shape[-2:]), invert=invert_mask)
        start = time.perf_counter()
        out = self.inpaint(colour, known.expand(colour.shape[0], -1, -1, -1))
        seconds = time.perf_counter() - start
        info = [{"method": self.method, "model": self._model_name(), "reason": None, **i} for i in self.last_info]
        trace = {k: v for k, v in self.last_trace.items() if v}  # a classical method leaves empty lists
        return InpaintResult(restore_type(out, alpha), info, trace, seconds)

    def _model_name(self) -> str | None:
        """The prior's name in :meth:`run`'s info (``None``: classical); ``auto`` fills it per image."""
        return None if self.method in classical.CLASSICAL_METHODS else self.name


class Inpainter(BaseInpainter):
    """Fill holes with a generative prior or a classical method; ``(image, mask)`` -> same type back.

    Args:
        method: one of :data:`METHODS`.
        gan: a :class:`restore.archs.dcgan.DCGAN` (methods ``gan``, ``gan-vae-init``).
        vae: a :class:`restore.archs.vae.VAE` (methods ``vae``, ``gan-vae-init``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        steps, restarts: Adam steps and random restarts (``None``: :data:`SEARCH_DEFAULTS` for the start,
            on a CPU 50 x 1 from an encoder's code (``gan-vae-init``, ``vae_init="encoder"``), else 50 x 4).
        lam: weight of the prior term (the paper's 0.003).
        lr, window: Adam learning rate and importance-window side (7).
        seed: seeds the restarts' starting codes (``None``: not reproducible).
        blend: ``"poisson"`` (default) or ``"none"`` (plain composite ``M*y + (1-M)*G(z*)``).
        blend_solver: ``"exact"`` (sparse Poisson solve) or ``"opencv"`` (``seamlessClone``).
        margin: context around the hole for images not at the prior's size (fraction of the hole side).
        use_sr: bring crops back through a shipped SR model when its scale fits exactly.
        precision: ``auto`` / ``fp32`` / ``bf16`` / ``fp16`` for the networks (see
            :func:`restore.device.resolve_precision`); the search's codes and losses stay fp32.
        vae_init: start of the ``vae`` search: ``"random"`` (N(0, I) samples) or ``"encoder"`` (the
            encoder's code of the masked image plus noise).
        progress: show a progress bar over the search's steps.

    Attributes:
        last_trace: per-step losses of the last call, ``{"total", "context", "prior"}`` each a list
            (one per image) of ``(steps,)`` tensors of the winning restart; empty for classical methods.
        last_info: per image, the crop used (``None`` at the prior's size), the upscale path,
            the final loss and the winning restart.
    """

    def __init__(self, method: str = "gan", gan: nn.Module | None = None, vae: nn.Module | None = None, *,
                 device: str | torch.device = "auto", steps: int | None = None, restarts: int | None = None,
                 lam: float = semantic.DEFAULT_LAMBDA, lr: float = semantic.DEFAULT_LR,
                 window: int = semantic.DEFAULT_WINDOW, seed: int | None = 0, blend: str = "poisson",
                 blend_solver: str = "exact", margin: float = crop.DEFAULT_MARGIN, use_sr: bool = True,
                 precision: str = "auto", progress: bool = False, vae_init: str = "random", name: str | None = None):
        if method not in METHODS:
            raise RestoreError(f"unknown inpainting method {method!r} (use {', '.join(METHODS)})")
        if blend not in BLENDS:
            raise RestoreError(f"unknown blend {blend!r} (use {', '.join(BLENDS)})")
        if method in ("gan", "gan-vae-init") and gan is None:
            raise RestoreError(f"method {method!r} needs a GAN prior")
        if method in ("vae", "gan-vae-init") and vae is None:
            raise RestoreError(f"method {method!r} needs a VAE")
        if vae_init not in ("random", "encoder"):
            raise RestoreError(f"vae_init must be 'random' or 'encoder', got {vae_init!r}")
        self.device = resolve_device(device)
        from_encoder = method == "gan-vae-init" or (method == "vae" and vae_init == "encoder")
        self.steps, self.restarts = search_budget(self.device, steps, restarts, "encoder" if from_encoder else "random")
        if not window >= 1 or window % 2 == 0:
            raise RestoreError(f"the importance window must be a positive odd number, got {window}")
        if margin < 0:
            raise RestoreError(f"margin must be >= 0, got {margin}")
        self.method, self.lam, self.lr, self.window, self.seed = method, float(lam), float(lr), int(window), seed
        self.blend, self.blend_solver, self.margin, self.use_sr = blend, blend_solver, float(margin), use_sr
        self.dtype = resolve_precision(precision, self.device)
        self.progress, self.name, self.vae_init = progress, name or method, vae_init
        self.gan = search_network(gan, self.device) if gan is not None else None
        self.vae = search_network(vae, self.device) if vae is not None else None
        prior = self.gan if method in ("gan", "gan-vae-init") else self.vae
        self.resolution = prior.resolution if prior is not None else None
        self.channels = prior.channels if prior is not None else None
        self.last_trace: dict = {}
        self.last_info: list[dict] = []
        self._upscalers: dict[int, Callable] | None = None
        self._losses: list[float] = []
        self._restarts: list[int] = []

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, method: str = "gan", *,
                        vae: str | os.PathLike | None = None, **kwargs) -> "BaseInpainter":
        """Load the prior(s) for ``method`` by registry name or ``.safetensors`` path.

        ``name_or_path`` is the GAN for ``gan``/``gan-vae-init`` and the VAE for ``vae`` (``None``:
        the shipped default); ``vae`` names the encoder for ``gan-vae-init`` (default: the VAE trained
        on the GAN's data). Classical methods load nothing. ``method="auto"`` with no model gives an
        :class:`AutoInpainter` (which holds the inpainters it chooses between).

        Raises:
            RestoreError: unknown model (the message lists the shipped ones), tampered weights, wrong kind.
        """
        if method == "auto" and name_or_path is None:
            return AutoInpainter(**kwargs)
        if method == "auto":  # a named prior without a method: that prior's own search
            from ..registry import load_model

            model, info = load_model(name_or_path)
            method = {"dcgan": "gan", "vae": "vae"}.get(info["arch"])
            if method is None:
                raise RestoreError(f"{name_or_path}: a {info['arch']} model is not an inpainting prior")
        if method not in METHODS:
            raise RestoreError(f"unknown inpainting method {method!r} (use auto, {', '.join(METHODS)})")
        gan_model = vae_model = None
        name = method
        if method in ("gan", "gan-vae-init"):
            gan_model, name = load_prior(name_or_path, "gan")
        if method == "vae":
            vae_model, name = load_prior(name_or_path, "vae")
        if method == "gan-vae-init":
            vae_model, vae_name = load_prior(vae or companion_vae(name), "vae")
            name = f"{name}+{vae_name}"
        return cls(method, gan_model, vae_model, name=name, **kwargs)

    # ------------------------------------------------------------------ public entry points
    def inpaint(self, target: torch.Tensor, known: torch.Tensor,
                boxes: list[crop.CropBox | None] | None = None) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] and known map ``(B, 1, H, W)`` -> inpainted ``(B, C, H, W)`` on the host.

        Images at the prior's resolution run as one batch (images x restarts); others one by one
        through a crop (``boxes[i]`` when given, e.g. a detected face; else one planned around the hole).
        Inputs are not modified.
        """
        target, known = _checked_inputs(target, known)
        self.last_trace, self.last_info = {"total": [], "context": [], "prior": []}, []
        self._losses, self._restarts = [], []
        start = time.perf_counter()
        if self.method in classical.CLASSICAL_METHODS:
            out = classical.inpaint_classical(target, known, self.method)
            self.last_info = [{"crop": None, "upscale": None} for _ in range(target.shape[0])]
        else:
            res = self.resolution
            boxes = boxes or [None] * target.shape[0]
            if tuple(target.shape[-2:]) == (res, res) and not any(boxes):
                fill = self._fill(target, known)
                self.last_info = [{"crop": None, "upscale": None} for _ in range(target.shape[0])]
            else:
                fills = []
                for i in range(target.shape[0]):
                    f, info = crop.fill_any_size(target[i:i + 1], known[i:i + 1], self._fill, res,
                                                 margin=self.margin, upscalers=self._sr_upscalers(), box=boxes[i])
                    fills.append(f)
                    self.last_info.append(info)
                fill = torch.cat(fills)
            out = (blending.poisson_blend(fill, target, known, method=self.blend_solver)
                   if self.blend == "poisson" else blending.composite(fill, target, known))
            for info, loss, restart in zip(self.last_info, self._losses, self._restarts):
                info.update(loss=loss, restart=restart)
        seconds = time.perf_counter() - start
        for info in self.last_info:
            info["seconds"] = seconds / target.shape[0]
        return out

    # ------------------------------------------------------------------ internals
    def _fill(self, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The prior's fill G(z*) for images already at its resolution, in the images' channels."""
        y = to_channels(target, self.channels).to(self.device)
        k = known.to(self.device)
        settings = dict(steps=self.steps, restarts=self.restarts, lam=self.lam, lr=self.lr, window=self.window,
                        seed=self.seed, dtype=self.dtype)
        bar = None
        if self.progress and self.steps:
            from ..device import progress

            bar = progress(self.steps, desc=f"inpaint ({self.method})")
            settings["callback"] = lambda step: bar.update(1)
        try:
            if self.method == "gan":
                result = semantic.gan_search(self.gan, y, k, **settings)
            elif self.method == "vae":
                result = semantic.vae_search(self.vae, y, k, init=self.vae_init, **settings)
            else:
                z0 = semantic.gan_start_from_vae(self.gan, self.vae, y, k, steps=self.steps, restarts=self.restarts,
                                                 lr=self.lr, seed=self.seed, dtype=self.dtype)
                result = semantic.gan_search(self.gan, y, k, z_init=z0, **settings)
        finally:
            if bar is not None:
                bar.close()
        for key in ("total", "context", "prior"):
            self.last_trace[key].extend(result.best_trace(key).T)
        self._losses.extend(float(v) for v in result.loss.cpu())
        self._restarts.extend(int(v) for v in result.restart)
        return to_channels(result.fill.float().cpu(), target.shape[1]).clamp(0, 1)

    def _sr_upscalers(self) -> dict[int, Callable]:
        """``{scale: fn}`` for shipped SR models, loaded on first use (the crop path calls them rarely)."""
        if not self.use_sr:
            return {}
        if self._upscalers is None:
            from ..registry import list_models

            self._upscalers = {}
            for entry in list_models("sr"):
                def upscale(x, _name=entry.name, _cache={}):
                    if "sr" not in _cache:
                        from .super_resolution import SuperResolver

                        _cache["sr"] = SuperResolver.from_pretrained(_name, device=self.device)
                    return _cache["sr"].upscale(x)[0]
                self._upscalers.setdefault(int(entry.scale), upscale)
        return self._upscalers

    def __repr__(self) -> str:
        if self.method in classical.CLASSICAL_METHODS:
            return f"Inpainter(method={self.method!r}, blend={self.blend!r})"
        return (f"Inpainter(method={self.method!r}, model={self.name!r}, steps={self.steps}, "
                f"restarts={self.restarts}, lam={self.lam}, blend={self.blend!r}, device={self.device}, "
                f"precision={precision_name(self.dtype)})")


class AutoInpainter(BaseInpainter):
    """``method="auto"``: per image, a prior only where the image is in that prior's domain, else the best
    classical method; ``last_info[i]`` says which (``method``, ``model``, ``reason``).

    - a face around the hole (OpenCV's Haar cascade on the image with the hole pre-filled by Telea,
      :mod:`restore.inpainting.faces`) -> ``faces64-dcgan`` on the face (``gan-vae-init`` from ``faces64-vae``'s
      start when shipped), cut the way CelebA frames faces
      (the whole image when it is already the prior's 64x64), filled and brought back;
    - a gray 28x28 or 32x32 image (Fashion-MNIST's form) -> ``fashion-dcgan``;
    - anything else -> the best classical method measured for the hole: biharmonic for scattered pixels,
      ``fsr-fast`` for holes up to :data:`FSR_MAX_HOLE_RATIO` of the image (and :data:`FSR_MAX_HOLE_PIXELS`),
      Telea for larger ones.

    Keyword arguments are the :class:`Inpainter`'s, used by the prior methods it picks. It holds one
    :class:`Inpainter` per ``(model, method)`` it has chosen (:attr:`inpainters`, loaded on first choice; the
    classical ones keyed by ``(None, method)``) and hands each image to its choice; the settings it was given,
    as an :class:`Inpainter` resolves them (``steps``, ``restarts``, ``lam``, ``seed``, ``device``...), are
    its attributes too.

    Example:
        >>> import numpy as np
        >>> from restore.pipelines.inpainting import AutoInpainter
        >>> image = np.full((48, 48, 3), 120, np.uint8); mask = np.zeros((48, 48), np.uint8); mask[16:32, 16:32] = 255
        >>> auto = AutoInpainter()
        >>> out = auto(image, mask)
        >>> auto.last_info[0]["method"], auto.last_info[0]["reason"]
        ('fsr-fast', 'no face around the hole, not a Fashion-MNIST-sized gray image: the best classical method for holes up to 50% of the image')
    """

    #: The settings an :class:`Inpainter` resolves from the keyword arguments that are kept as attributes here.
    SETTINGS = ("device", "dtype", "steps", "restarts", "lam", "lr", "window", "seed", "blend", "blend_solver",
                "margin", "use_sr", "progress", "vae_init")

    def __init__(self, **kwargs):
        kwargs.pop("method", None)
        from ..registry import list_models

        self.method, self.name, self._kwargs = "auto", "auto", kwargs
        # The classical fallback, built now: settings an Inpainter refuses fail here, before any image.
        fallback = Inpainter(CLASSICAL_FOR_HOLES, **self._classical_settings())
        self.inpainters: dict[tuple[str | None, str], Inpainter] = {(None, CLASSICAL_FOR_HOLES): fallback}
        for key in self.SETTINGS:
            setattr(self, key, getattr(fallback, key))
        self.last_trace: dict = {}
        self.last_info: list[dict] = []
        self._shipped = {e.name: e for e in list_models()}
        face = self._shipped.get(FACE_PRIOR)
        self.face_side = int(face.resolution[-1]) if face is not None else None
        self.resolution = self.face_side  # callers batch images of the face prior's size together

    def choose(self, target: torch.Tensor, known: torch.Tensor) -> dict:
        """For one image ``(1, C, H, W)`` and its known map: ``{"method", "model", "box", "reason"}``."""
        c, (h, w) = target.shape[1], target.shape[-2:]
        gray = c == 1 or bool((target[:, :1] == target).all())
        if c == 3 and not gray and self.face_side is not None:
            face = self._face_around_hole(target, known, masks.hole_box(known))
            if isinstance(face, str):
                return self._classical(known, face)
            if face is not None:
                box, where = face
                if FACE_VAE in self._shipped:
                    return {"method": "gan-vae-init", "model": FACE_PRIOR, "box": box,
                            "reason": f"a face around the hole ({where}): the face prior, from {FACE_VAE}'s start"}
                return {"method": "gan", "model": FACE_PRIOR, "box": box,
                        "reason": f"a face around the hole ({where}): the face prior"}
        if gray and (h, w) in ((28, 28), (32, 32)) and FASHION_PRIOR in self._shipped:
            return {"method": "gan", "model": FASHION_PRIOR, "box": None,
                    "reason": f"a gray {w}x{h} image: the Fashion-MNIST prior's domain"}
        return self._classical(known, "no face around the hole, not a Fashion-MNIST-sized gray image")

    def _face_around_hole(self, target, known, hole):
        """``(CropBox or None, description)`` of a detected face holding the hole; a string when a face was
        found but the hole reaches outside it; ``None`` when no face was found."""
        from ..inpainting import faces

        prefilled = classical.inpaint_classical(target, known, "telea")
        rgb = (prefilled[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        found = faces.detect_faces(rgb)
        if not found:
            return None
        res = self.face_side
        for face in found:
            where = f"{face.size}x{face.size} at x={face.left}, y={face.top}"  # sizes WxH, positions x then y
            if tuple(target.shape[-2:]) == (res, res) and face.size >= 0.75 * res:  # already a face crop
                return None, f"{where}, the whole {res}x{res} image"
            square = faces.prior_crop(face)
            if square.contains(*hole):
                return square, where
        return f"a face found ({where}) but the hole reaches outside it"

    def _classical(self, known: torch.Tensor, why: str) -> dict:
        import cv2
        import numpy as np

        hole = (known[0, 0] < 0.5).numpy().astype(np.uint8)
        distance = cv2.distanceTransform(hole, cv2.DIST_L2, 3)[hole > 0]  # to the nearest known pixel
        hole_pixels = distance.size
        scattered = hole_pixels > 0 and float(np.percentile(distance, 90)) <= SCATTERED_DISTANCE
        if scattered:
            method, kind = CLASSICAL_FOR_SCATTERED, "scattered pixels"
        elif hole_pixels <= FSR_MAX_HOLE_PIXELS and hole_pixels <= FSR_MAX_HOLE_RATIO * hole.size:
            method, kind = CLASSICAL_FOR_SMALLER_HOLES, f"holes up to {FSR_MAX_HOLE_RATIO:.0%} of the image"
        elif hole_pixels > FSR_MAX_HOLE_PIXELS:
            method, kind = CLASSICAL_FOR_HOLES, f"holes over {FSR_MAX_HOLE_PIXELS:,} pixels (fsr-fast would be slow)"
        else:
            method, kind = CLASSICAL_FOR_HOLES, f"holes over {FSR_MAX_HOLE_RATIO:.0%} of the image"
        return {"method": method, "model": None, "box": None, "reason": f"{why}: the best classical method for {kind}"}

    def _classical_settings(self) -> dict:
        """The keyword arguments without a prior's (``gan``, ``vae``, ``name``): a classical Inpainter's."""
        return {k: v for k, v in self._kwargs.items() if k not in ("gan", "vae", "name")}

    def _prior(self, name: str, method: str) -> Inpainter:
        """The inpainter of prior ``name`` by ``method``, loaded on first use."""
        if (name, method) not in self.inpainters:
            self.inpainters[name, method] = Inpainter.from_pretrained(name, method, **self._kwargs)
        return self.inpainters[name, method]

    def inpainter_for(self, choice: dict) -> Inpainter:
        """The :class:`Inpainter` that runs a :meth:`choose` result (held in :attr:`inpainters`)."""
        if choice["model"] is not None:
            return self._prior(choice["model"], choice["method"])
        key = (None, choice["method"])
        if key not in self.inpainters:
            self.inpainters[key] = Inpainter(choice["method"], **self._classical_settings())
        return self.inpainters[key]

    def inpaint(self, target: torch.Tensor, known: torch.Tensor, boxes=None) -> torch.Tensor:
        """As :meth:`Inpainter.inpaint`, choosing the method per image (``last_info[i]["reason"]``)."""
        target, known = _checked_inputs(target, known)
        choices = [self.choose(target[i:i + 1], known[i:i + 1]) for i in range(target.shape[0])]
        # Images one prior fills whole (at its resolution) run as one batch; the rest one by one.
        groups: dict = {}
        for i, choice in enumerate(choices):
            key = ((choice["model"], choice["method"]) if choice["model"] and choice["box"] is None
                   else (choice["method"], i))
            groups.setdefault(key, []).append(i)
        out = torch.empty_like(target)
        infos: list = [None] * target.shape[0]
        traces = {"total": [None] * target.shape[0], "context": [None] * target.shape[0],
                  "prior": [None] * target.shape[0]}
        for members in groups.values():
            choice = choices[members[0]]
            runner = self.inpainter_for(choice)
            boxes = [choice["box"]] * len(members) if choice["model"] else None
            out[members] = runner.inpaint(target[members], known[members], boxes=boxes)
            for j, i in enumerate(members):
                budget = {"steps": runner.steps, "restarts": runner.restarts} if choice["model"] else {}
                infos[i] = dict(runner.last_info[j], method=choices[i]["method"], model=choices[i]["model"],
                                reason=choices[i]["reason"], **budget)
                for key in traces:
                    if runner.last_trace.get(key):
                        traces[key][i] = runner.last_trace[key][j]
        self.last_info = infos
        self.last_trace = {k: v for k, v in traces.items() if any(t is not None for t in v)}  # None: classical
        return out

    def __repr__(self) -> str:
        return "Inpainter(method='auto': a face prior for faces, fashion-dcgan for 28x28/32x32 gray, else classical)"
