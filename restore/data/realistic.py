"""Realistic SR degradations: blur, resize, noise and a real JPEG codec, for training and benchmarks.

Two families, both seeded (the LR of a batch is a pure function of ``(seed, rank, step)``, so a resumed
run sees the batches the uninterrupted run would have seen):

* the **second-order** model of Real-ESRGAN (Wang et al. 2021): blur -> random resize -> noise -> JPEG,
  twice, then a resize to the LR size with an optional sinc filter and a last JPEG (in random order);
* the **shuffled** model of BSRGAN (Zhang et al. 2021): two blurs, a downscale, noise and JPEG in a random
  order, then a last JPEG.

:class:`RealisticDegradation` mixes them with a simple first-order degradation (MATLAB bicubic, then noise
and / or JPEG: what a downscaled web photo is) and the clean bicubic LR, by the fractions in
:data:`MIX`. Every range lives in :data:`RANGES`, the one place to read or change them.

The fixed degradations of the real-world benchmark (``benchmarks/sr_real.py``) are in
:data:`BENCHMARK_DEGRADATIONS`: each maps a clean bicubic LR to a degraded one with a fixed seed.

Operations come from libraries: kornia filters with the kernels, ``F.interpolate`` resizes, OpenCV's
JPEG codec (libjpeg, the codec that made the photos people have). Kernels are built here from their
formulas (Real-ESRGAN's ``random_mixed_kernels``); the filtering itself is ``kornia.filters.filter2d``.

Example:
    >>> import torch
    >>> from restore.data.realistic import RealisticDegradation, apply_benchmark_degradation
    >>> hr = torch.rand(2, 3, 96, 96)
    >>> make_lr = RealisticDegradation(scale=4, seed=0)
    >>> make_lr(hr, step=0).shape
    torch.Size([2, 3, 24, 24])
    >>> torch.equal(make_lr(hr, step=3), make_lr(hr, step=3))  # seeded by step
    True
    >>> apply_benchmark_degradation(torch.rand(1, 3, 32, 32), "jpeg50", seed=0).shape
    torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["RANGES", "MIX", "BENCHMARK_DEGRADATIONS", "RealisticDegradation", "apply_benchmark_degradation",
           "blur_kernel", "sinc_kernel", "random_blur_kernel", "blur", "random_resize", "gaussian_noise",
           "poisson_noise", "jpeg", "quantize", "make_degradation", "parse_mix"]

#: every range of the realistic degradations (Real-ESRGAN's ``realesrgan_x4plus.yml`` values, BSRGAN's
#: ``degradation_bsrgan`` values). Sigmas of blur are in pixels of the image they blur; noise sigmas
#: are on the 0..255 scale; JPEG qualities are libjpeg's 1..100.
RANGES = {
    "kernel_sizes": (7, 9, 11, 13, 15, 17, 19, 21),
    "kernel_kinds": ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"),
    "kernel_probs": (0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
    "sinc_prob": 0.1, "sinc_prob2": 0.1, "final_sinc_prob": 0.8,
    "blur_sigma": (0.2, 3.0), "blur_sigma2": (0.2, 1.5),
    "betag": (0.5, 4.0), "betap": (1.0, 2.0),
    "second_blur_prob": 0.8,
    "resize_prob": (0.2, 0.7, 0.1), "resize_range": (0.15, 1.5),      # (up, down, keep)
    "resize_prob2": (0.3, 0.4, 0.3), "resize_range2": (0.3, 1.2),
    "resize_modes": ("area", "bilinear", "bicubic"),
    "gaussian_noise_prob": 0.5, "noise_range": (1.0, 30.0), "poisson_scale_range": (0.05, 3.0), "gray_noise_prob": 0.4,
    "gaussian_noise_prob2": 0.5, "noise_range2": (1.0, 25.0), "poisson_scale_range2": (0.05, 2.5),
    "jpeg_range": (30, 95), "jpeg_range2": (30, 95),
    # the first-order branch (a downscaled photo, maybe noisy, saved as JPEG)
    "simple_noise_prob": 0.5, "simple_noise_range": (1.0, 20.0), "simple_jpeg_prob": 0.8,
    # BSRGAN's shuffled model
    "bsrgan_sigma": (0.1, 2.8), "bsrgan_noise_range": (2.0, 25.0),
}

#: fractions of each training batch's samples by degradation family (they sum to 1).
MIX = {"realesrgan": 0.3, "bsrgan": 0.2, "simple": 0.4, "clean": 0.1}


# ---------------------------------------------------------------- kernels
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return np.meshgrid(r, r, indexing="xy")


def blur_kernel(size: int, kind: str = "iso", sigma_x: float = 1.0, sigma_y: float | None = None,
                theta: float = 0.0, beta: float = 1.0) -> torch.Tensor:
    """A ``(size, size)`` float32 blur kernel summing to 1.

    ``kind``: ``iso`` / ``aniso`` (Gaussian), ``generalized_*`` (``exp(-0.5 * d**beta)``, heavier or
    lighter tails than a Gaussian), ``plateau_*`` (``1 / (1 + d**beta)``), where ``d`` is the squared
    Mahalanobis distance under the covariance of ``sigma_x``, ``sigma_y`` rotated by ``theta`` radians.
    """
    if sigma_y is None or not kind.endswith("aniso"):  # iso kinds: one sigma
        sigma_y = sigma_x
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cov = rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T
    inv = np.linalg.inv(cov)
    xx, yy = _grid(size)
    d = inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy
    if kind.startswith("generalized"):
        k = np.exp(-0.5 * np.power(d, beta))
    elif kind.startswith("plateau"):
        k = 1.0 / (1.0 + np.power(d, beta))
    elif kind in ("iso", "aniso"):
        k = np.exp(-0.5 * d)
    else:
        raise ValueError(f"unknown kernel kind {kind!r}")
    return torch.from_numpy(k / k.sum()).float()


def sinc_kernel(cutoff: float, size: int = 21) -> torch.Tensor:
    """A ``(size, size)`` circular low-pass (2-D sinc, ``cutoff`` in radians per pixel, < pi), summing to 1.

    Its ringing is what an over-sharpened or resampled photo carries (Real-ESRGAN's ``circular_lowpass_kernel``).
    """
    from scipy.special import j1

    xx, yy = _grid(size)
    r = np.hypot(xx, yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = cutoff * j1(cutoff * r) / (2 * math.pi * r)
    k[r == 0] = cutoff ** 2 / (4 * math.pi)
    return torch.from_numpy(k / k.sum()).float()


def random_blur_kernel(rng: np.random.Generator, *, second: bool = False) -> torch.Tensor:
    """A random kernel as Real-ESRGAN draws one (size, kind, sigmas, angle, shape; sometimes a sinc)."""
    size = int(rng.choice(RANGES["kernel_sizes"]))
    if rng.random() < RANGES["sinc_prob2" if second else "sinc_prob"]:
        cutoff = rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(math.pi / 5, math.pi)
        return sinc_kernel(cutoff, size)
    kind = str(rng.choice(RANGES["kernel_kinds"], p=RANGES["kernel_probs"]))
    lo, hi = RANGES["blur_sigma2" if second else "blur_sigma"]
    sigma_x, sigma_y = rng.uniform(lo, hi), rng.uniform(lo, hi)
    theta = rng.uniform(-math.pi, math.pi)
    beta = 1.0
    if kind.startswith("generalized"):  # half the draws below 1 (heavy tails), half above (flat top)
        b_lo, b_hi = RANGES["betag"]
        beta = rng.uniform(b_lo, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, b_hi)
    elif kind.startswith("plateau"):
        beta = rng.uniform(*RANGES["betap"])
    return blur_kernel(size, kind, sigma_x, sigma_y, theta, beta)


# ---------------------------------------------------------------- operations on (1, C, H, W) in [0, 1]
def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Filter ``(B, C, H, W)`` with one ``(k, k)`` kernel (reflected borders; kornia ``filter2d``)."""
    from kornia.filters import filter2d

    k = kernel.shape[-1]
    if min(x.shape[-2:]) <= k // 2:  # reflect padding needs the image wider than the half kernel
        x = F.pad(x, [k // 2] * 4, mode="replicate")
        return filter2d(x, kernel[None].to(x), border_type="reflect")[..., k // 2:-(k // 2), k // 2:-(k // 2)]
    return filter2d(x, kernel[None].to(x), border_type="reflect")


def random_resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Resize to ``size`` by ``area``, ``bilinear`` or ``bicubic`` (``F.interpolate``), clamped to [0, 1]."""
    size = (max(1, int(size[0])), max(1, int(size[1])))
    if mode == "area":
        return F.interpolate(x, size=size, mode="area").clamp(0, 1)
    return F.interpolate(x, size=size, mode=mode, align_corners=False).clamp(0, 1)


def gaussian_noise(x: torch.Tensor, sigma: float, *, gray: bool = False,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Add Gaussian noise of std ``sigma`` (0..255 scale), the same on every channel when ``gray``; clamp."""
    shape = (x.shape[0], 1, *x.shape[2:]) if gray else x.shape
    noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(x) * (sigma / 255.0)
    return (x + noise).clamp(0, 1)


def poisson_noise(x: torch.Tensor, scale: float, *, gray: bool = False,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Add Poisson (shot) noise: counts ``x * 255`` drawn from a Poisson law, the deviation scaled by ``scale``."""
    base = x.mean(1, keepdim=True) if gray else x
    counts = base.detach().float().cpu() * 255.0
    noise = (torch.poisson(counts, generator=generator) - counts) / 255.0
    return (x + noise.to(x) * scale).clamp(0, 1)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels (what saving a PNG does)."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode ``(B, C, H, W)`` in [0, 1] with libjpeg (OpenCV) at ``quality`` (1..100, 4:2:0)."""
    import cv2

    out = []
    for img in x:
        arr = (img.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())
        gray = arr.shape[2] == 1
        bgr = arr[..., 0] if gray else np.ascontiguousarray(arr[..., ::-1])
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:  # pragma: no cover - libjpeg refuses nothing this small
            raise RuntimeError("JPEG encoding failed")
        dec = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
        dec = dec[..., None] if gray else dec[..., ::-1]
        out.append(torch.from_numpy(np.ascontiguousarray(dec)).permute(2, 0, 1))
    return torch.stack(out).to(x.device, x.dtype if x.dtype.is_floating_point else torch.float32) / 255.0


# ---------------------------------------------------------------- the families
def _noise(x: torch.Tensor, rng: np.random.Generator, gen: torch.Generator, *, second: bool = False) -> torch.Tensor:
    gray = rng.random() < RANGES["gray_noise_prob"]
    if rng.random() < RANGES["gaussian_noise_prob2" if second else "gaussian_noise_prob"]:
        return gaussian_noise(x, rng.uniform(*RANGES["noise_range2" if second else "noise_range"]), gray=gray,
                              generator=gen)
    return poisson_noise(x, rng.uniform(*RANGES["poisson_scale_range2" if second else "poisson_scale_range"]),
                         gray=gray, generator=gen)


def _resize_step(x: torch.Tensor, rng: np.random.Generator, probs, span, size=None) -> torch.Tensor:
    """Resize up / down / not (``probs``) by a factor drawn from ``span``, relative to ``size`` (default x's)."""
    updown = rng.choice(3, p=probs)
    factor = rng.uniform(1, span[1]) if updown == 0 else rng.uniform(span[0], 1) if updown == 1 else 1.0
    h, w = size if size is not None else x.shape[-2:]
    return random_resize(x, (round(h * factor), round(w * factor)), str(rng.choice(RANGES["resize_modes"])))


def realesrgan(hr: torch.Tensor, scale: int, rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """Real-ESRGAN's second-order degradation of one ``(1, C, H, W)`` HR crop to ``(1, C, H/s, W/s)``."""
    h, w = hr.shape[-2:]
    x = blur(hr, random_blur_kernel(rng))
    x = _resize_step(x, rng, RANGES["resize_prob"], RANGES["resize_range"])
    x = _noise(x, rng, gen)
    x = jpeg(x, int(rng.integers(RANGES["jpeg_range"][0], RANGES["jpeg_range"][1] + 1)))
    if rng.random() < RANGES["second_blur_prob"]:
        x = blur(x, random_blur_kernel(rng, second=True))
    # the second resize lands relative to the LR size (Real-ESRGAN's ``ori_h / scale * scale2``)
    x = _resize_step(x, rng, RANGES["resize_prob2"], RANGES["resize_range2"], size=(h / scale, w / scale))
    x = _noise(x, rng, gen, second=True)
    quality = int(rng.integers(RANGES["jpeg_range2"][0], RANGES["jpeg_range2"][1] + 1))
    sinc = sinc_kernel(rng.uniform(math.pi / 3, math.pi), int(rng.choice(RANGES["kernel_sizes"]))) \
        if rng.random() < RANGES["final_sinc_prob"] else None
    mode = str(rng.choice(RANGES["resize_modes"]))
    final_size = (h // scale, w // scale)
    if rng.random() < 0.5:  # resize + sinc, then JPEG
        x = random_resize(x, final_size, mode)
        x = blur(x, sinc) if sinc is not None else x
        x = jpeg(x, quality)
    else:  # JPEG, then resize + sinc
        x = jpeg(x, quality)
        x = random_resize(x, final_size, mode)
        x = blur(x, sinc) if sinc is not None else x
    return quantize(x)


def bsrgan(hr: torch.Tensor, scale: int, rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """BSRGAN's shuffled degradation (without its camera-ISP step) of one HR crop to the LR size."""
    h, w = hr.shape[-2:]
    lo, hi = RANGES["bsrgan_sigma"]

    def blur_op(x):
        if rng.random() < 0.5:
            return blur(x, blur_kernel(2 * int(rng.integers(2, 11)) + 1, "iso", rng.uniform(lo, hi)))
        return blur(x, blur_kernel(2 * int(rng.integers(2, 11)) + 1, "aniso", rng.uniform(lo, hi),
                                   rng.uniform(lo, hi), rng.uniform(0, math.pi)))

    def down_op(x):  # to the LR size directly, or via an intermediate size, by a random filter
        if rng.random() < 0.5:
            mid = rng.uniform(1.0, 2.0)
            x = random_resize(x, (round(h / scale * mid), round(w / scale * mid)), str(rng.choice(RANGES["resize_modes"])))
        return random_resize(x, (h // scale, w // scale), str(rng.choice(RANGES["resize_modes"])))

    def noise_op(x):
        return gaussian_noise(x, rng.uniform(*RANGES["bsrgan_noise_range"]), gray=rng.random() < 0.4, generator=gen)

    def jpeg_op(x):
        return jpeg(x, int(rng.integers(30, 96)))

    ops = [blur_op, blur_op, down_op, noise_op, jpeg_op]  # down_op brings it to the LR size; the rest keep sizes
    for i in rng.permutation(len(ops)):
        hr = ops[i](hr)
    return quantize(jpeg(hr, int(rng.integers(30, 96))))


def simple(hr: torch.Tensor, scale: int, rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """First order: MATLAB bicubic downscale, then maybe Gaussian noise, then maybe JPEG (a downscaled web photo)."""
    from .degradation import degrade

    x = degrade(hr, scale)
    if rng.random() < RANGES["simple_noise_prob"]:
        x = quantize(gaussian_noise(x, rng.uniform(*RANGES["simple_noise_range"]), gray=rng.random() < 0.3,
                                    generator=gen))
    if rng.random() < RANGES["simple_jpeg_prob"]:
        x = jpeg(x, int(rng.integers(RANGES["jpeg_range"][0], RANGES["jpeg_range"][1] + 1)))
    return x


def clean(hr: torch.Tensor, scale: int, rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """The benchmark LR: MATLAB bicubic, 8-bit (:func:`restore.data.degradation.degrade`)."""
    from .degradation import degrade

    return degrade(hr, scale)


FAMILIES = {"realesrgan": realesrgan, "bsrgan": bsrgan, "simple": simple, "clean": clean}


class RealisticDegradation:
    """Training LR from HR: each sample drawn from a family of :data:`MIX`, seeded by ``(seed, rank, step)``.

    Args:
        scale: SR factor; HR sides must be multiples of it.
        seed, rank: the run's seed and DDP rank.
        mix: family -> fraction (default :data:`MIX`); ``{"realesrgan": 1}`` for Real-ESRGAN's model only.

    Call ``make_lr(hr, step)`` with ``hr`` ``(B, C, P, P)`` in [0, 1] on any device; returns
    ``(B, C, P/scale, P/scale)`` on the same device, quantised to 8 bits. The work runs on the CPU
    (the JPEG codec does), one sample at a time: about 1-3 ms per 96x96 crop.
    """

    def __init__(self, scale: int, seed: int = 0, rank: int = 0, mix: dict[str, float] | None = None):
        self.scale, self.seed, self.rank = scale, seed, rank
        self.mix = dict(mix or MIX)
        unknown = set(self.mix) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown degradation families {sorted(unknown)}; known: {sorted(FAMILIES)}")
        total = sum(self.mix.values())
        self.names = list(self.mix)
        self.probs = [self.mix[n] / total for n in self.names]

    def describe(self) -> str:
        return "realistic mix (restore.data.realistic): " + ", ".join(f"{n} {p:.2f}" for n, p in zip(self.names, self.probs))

    def __call__(self, hr: torch.Tensor, step: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.rank, step, 7])
        gen = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        cpu = hr.detach().float().cpu().contiguous()
        out = []
        for i in range(cpu.shape[0]):
            family = FAMILIES[self.names[rng.choice(len(self.names), p=self.probs)]]
            out.append(family(cpu[i:i + 1], self.scale, rng, gen))
        return torch.cat(out).to(hr.device, hr.dtype if hr.dtype.is_floating_point else torch.float32)


def parse_mix(text: str) -> dict[str, float]:
    """``"simple=0.6,clean=0.2,realesrgan=0.2"`` -> ``{"simple": 0.6, ...}`` (``""`` -> ``{}``: :data:`MIX`)."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"degradation mix entry {part!r} is not FAMILY=WEIGHT") from None
        if name not in FAMILIES or not weight >= 0:
            raise ValueError(f"degradation mix entry {part!r}: families are {', '.join(FAMILIES)}, weights >= 0")
        mix[name] = weight
    if mix and not sum(mix.values()) > 0:
        raise ValueError("degradation mix weights sum to 0")
    return mix


def make_degradation(name: str, scale: int, seed: int = 0, rank: int = 0, mix: dict[str, float] | str | None = None):
    """The training LR maker of a recipe's ``degradation`` key: a callable ``(hr, step) -> lr``.

    ``bicubic`` is the benchmark degradation (:func:`restore.data.degradation.degrade`); ``realistic``
    is :class:`RealisticDegradation` with ``mix`` (default :data:`MIX`; a dict or ``"simple=0.6,clean=0.4"``);
    a family name (``realesrgan``, ``bsrgan``, ``simple``) uses that family alone.
    """
    if name == "bicubic":
        from .degradation import degrade

        return lambda hr, step: degrade(hr, scale)
    if name == "realistic":
        return RealisticDegradation(scale, seed, rank, mix=parse_mix(mix) if isinstance(mix, str) else mix)
    if name in FAMILIES:
        return RealisticDegradation(scale, seed, rank, mix={name: 1.0})
    raise ValueError(f"degradation must be bicubic, realistic or one of {', '.join(FAMILIES)}; got {name!r}")


# ---------------------------------------------------------------- the benchmark's fixed degradations
def _blur_noise_jpeg(sigma_blur: float, sigma_noise: float, quality: int):
    def apply(lr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = blur(lr, blur_kernel(2 * math.ceil(3 * sigma_blur) + 1, "iso", sigma_blur))
        return jpeg(quantize(gaussian_noise(x, sigma_noise, generator=gen)), quality)
    return apply


#: the real-world benchmark's degradations of a clean bicubic LR (8-bit); names used in tables and cards.
BENCHMARK_DEGRADATIONS = {
    "clean": lambda lr, gen: lr,
    "jpeg30": lambda lr, gen: jpeg(lr, 30),
    "jpeg50": lambda lr, gen: jpeg(lr, 50),
    "jpeg70": lambda lr, gen: jpeg(lr, 70),
    "jpeg90": lambda lr, gen: jpeg(lr, 90),
    "noise5": lambda lr, gen: quantize(gaussian_noise(lr, 5, generator=gen)),
    "noise10": lambda lr, gen: quantize(gaussian_noise(lr, 10, generator=gen)),
    "noise15": lambda lr, gen: quantize(gaussian_noise(lr, 15, generator=gen)),
    "blur1-noise5-jpeg70": _blur_noise_jpeg(1.0, 5, 70),
    "blur0.6-noise10-jpeg50": _blur_noise_jpeg(0.6, 10, 50),
}


def apply_benchmark_degradation(lr: torch.Tensor, name: str, seed: int = 0) -> torch.Tensor:
    """Degrade a clean LR ``(B, C, h, w)`` in [0, 1] by the benchmark's ``name`` with a fixed ``seed``."""
    if name not in BENCHMARK_DEGRADATIONS:
        raise ValueError(f"unknown benchmark degradation {name!r}; known: {', '.join(BENCHMARK_DEGRADATIONS)}")
    gen = torch.Generator().manual_seed(seed)
    return BENCHMARK_DEGRADATIONS[name](lr.float().cpu(), gen).to(lr.device)
