"""``--model auto`` for super-resolution: the real-world model for damaged inputs, the bicubic one for clean.

The shipped bicubic-trained SRResNet is the best model for clean downscales and sharpens the blocks
of a JPEG and the grain of a noisy photo; the real-world model (trained on
:mod:`restore.data.realistic`'s degradations) removes them, at some cost on clean inputs. Per image,
:func:`choose_sr_model` reads what the file says (a JPEG's quality from its quantisation table) and
what the pixels say (8x8 blockiness and a noise estimate, :mod:`restore.metrics.noreference`) and
compares them with thresholds taken from the real-world benchmark (``benchmarks/sr_real.py``, README
"Real-world inputs").

:class:`AutoSuperResolver` holds one :class:`SuperResolver` per model it can choose (loaded when first
chosen) and upscales each image with its choice; ``last_choice`` says what was picked and why.

Example:
    >>> import torch
    >>> from restore.pipelines.sr_auto import choose_sr_model
    >>> choose_sr_model(torch.rand(1, 3, 64, 64) * 0 + 0.5, jpeg_quality=40, available=["srresnet-x4", "srresnet-x4-real"]).model
    'srresnet-x4-real'
    >>> choose_sr_model(torch.full((1, 3, 64, 64), 0.5), available=["srresnet-x4", "srresnet-x4-real"]).model
    'srresnet-x4'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import RestoreError

__all__ = ["SRChoice", "choose_sr_model", "decide", "auto_pair", "measure_input", "AutoSuperResolver", "AUTO_MODELS",
           "JPEG_QUALITY_BELOW", "BLOCKINESS_ABOVE", "NOISE_SIGMA_ABOVE"]

#: scale -> (model for clean inputs, model for compressed / noisy inputs).
AUTO_MODELS = {4: ("srresnet-x4", "srresnet-x4-real"), 2: ("srresnet-x2", "srresnet-x2-real")}

# Thresholds from the real-world benchmark (benchmarks/results/sr_real_x4.json, 80 Sun-Hays photos): the
# combination with the highest mean Y-PSNR over its 10 conditions that costs clean inputs <= 0.02 dB
# (python benchmarks/sr_real.py --calibrate). An input goes to the real-world model when any is crossed.
#: a JPEG file saved below this quality.
JPEG_QUALITY_BELOW = 80
#: 8x8 blockiness above this (a JPEG that was saved again losslessly, or a frame of a video).
BLOCKINESS_ABOVE = 1.15
#: estimated noise std (0..255) above this.
NOISE_SIGMA_ABOVE = 9.0
#: measures are taken on a centre crop of at most this side (grid-aligned): enough, and fast on big photos.
MEASURE_SIDE = 512


@dataclass
class SRChoice:
    """The model picked for one image, why (one line for the user), and the measures behind it."""

    model: str
    reason: str
    measures: dict = field(default_factory=dict)


def measure_input(image: torch.Tensor, jpeg_quality: int | None = None) -> dict:
    """``{"jpeg_quality", "blockiness", "noise_sigma"}`` of ``(1, C, H, W)`` in [0, 1] (a centre crop)."""
    from ..metrics.noreference import blockiness, noise_sigma

    x = image if image.dim() == 4 else image[None]
    h, w = x.shape[-2:]
    # crop offsets multiple of 8: a decoded JPEG's block grid stays aligned with the crop's corner
    top, left = max((h - MEASURE_SIDE) // 2, 0) // 8 * 8, max((w - MEASURE_SIDE) // 2, 0) // 8 * 8
    crop = x[..., top:top + MEASURE_SIDE, left:left + MEASURE_SIDE]
    if crop.shape[1] == 1:
        crop = crop.expand(-1, 3, -1, -1)
    return {"jpeg_quality": jpeg_quality, "blockiness": round(blockiness(crop), 3),
            "noise_sigma": round(noise_sigma(crop), 2)}


def choose_sr_model(image: torch.Tensor, *, jpeg_quality: int | None = None, scale: int = 4,
                    available: list[str] | None = None) -> SRChoice:
    """Pick the model for ``image`` ``(1, C, H, W)`` in [0, 1] at ``scale``.

    Args:
        jpeg_quality: the quality its file was saved at (:func:`restore.metrics.noreference.jpeg_quality`),
            ``None`` when it is not a JPEG.
        available: model names that exist (default: the shipped registry's SR models).
    """
    if available is None:
        from ..registry import list_models

        available = [e.name for e in list_models("sr")]
    return decide(measure_input(image, jpeg_quality), *auto_pair(scale, available))


def auto_pair(scale: int, available: list[str]) -> tuple[str, str | None, str]:
    """``(clean model, real-world model or None, its name)`` of :data:`AUTO_MODELS` among ``available``."""
    if scale not in AUTO_MODELS:
        raise RestoreError(f"--model auto knows x{'/x'.join(map(str, sorted(AUTO_MODELS)))}, not x{scale}; "
                           "pass --model NAME")
    clean, real = AUTO_MODELS[scale]
    if not available:
        from .super_resolution import NO_WEIGHTS_MESSAGE

        raise RestoreError(NO_WEIGHTS_MESSAGE)
    if clean not in available:
        raise RestoreError(f"--model auto needs the shipped {clean}; pass --model NAME")
    return clean, real if real in available else None, real


def decide(measures: dict, clean: str, real: str | None, real_name: str | None = None, *,
           jpeg_quality_below: int | None = None, blockiness_above: float | None = None,
           noise_sigma_above: float | None = None) -> SRChoice:
    """The choice between ``clean`` and ``real`` (``None``: none available, called ``real_name``) for
    measures of :func:`measure_input`. Thresholds default to the module's constants; the benchmark
    passes others to calibrate them."""
    q_below = JPEG_QUALITY_BELOW if jpeg_quality_below is None else jpeg_quality_below
    b_above = BLOCKINESS_ABOVE if blockiness_above is None else blockiness_above
    s_above = NOISE_SIGMA_ABOVE if noise_sigma_above is None else noise_sigma_above
    m, quality = measures, measures.get("jpeg_quality")
    reasons = []
    if quality is not None and quality < q_below:
        reasons.append(f"JPEG quality {quality} < {q_below}")
    if m["blockiness"] > b_above:
        reasons.append(f"8x8 blockiness {m['blockiness']:.2f} > {b_above}")
    if m["noise_sigma"] > s_above:
        reasons.append(f"noise sigma {m['noise_sigma']:.1f} > {s_above}")
    if reasons and real is not None:
        return SRChoice(real, "; ".join(reasons), m)
    if reasons:
        return SRChoice(clean, "; ".join(reasons) + f", but no {real_name or 'real-world model'} ships", m)
    said = f"JPEG quality {quality}, " if quality is not None else ""
    return SRChoice(clean, f"clean input ({said}blockiness {m['blockiness']:.2f}, noise sigma "
                           f"{m['noise_sigma']:.1f})", m)


class AutoSuperResolver:
    """Upscale each image with the model :func:`choose_sr_model` picks for it.

    Args:
        scale: 4 or 2.
        models: ``(clean, real)`` names or ``.safetensors`` paths to choose between instead of the
            shipped pair of :data:`AUTO_MODELS` (e.g. models you trained).
        **settings: passed to :meth:`SuperResolver.from_pretrained` for every model (device, precision,
            tile, tile_pad, compile).

    ``upscale(colour, alpha, outscale=None, jpeg_quality=None)`` returns ``(colour, alpha)`` like
    :meth:`SuperResolver.upscale`; ``__call__(image, outscale=None, jpeg_quality=None)`` returns the
    type it was given; ``run`` the same as a :class:`restore.pipelines.results.SRResult` (model, reason,
    measures, seconds). ``last_choice`` is the :class:`SRChoice` of the latest image.
    """

    name = "auto"

    def __init__(self, scale: int = 4, models: tuple[str, str] | None = None, **settings):
        self.scale, self.settings = scale, settings
        if models is None:
            from ..registry import list_models

            self.pair = auto_pair(scale, [e.name for e in list_models("sr")])
        else:
            self.pair = (str(models[0]), str(models[1]), str(models[1]))
        self._resolvers: dict = {}
        self.last_choice: SRChoice | None = None

    def resolver(self, name: str):
        """The :class:`SuperResolver` of ``name``, loaded on first use."""
        if name not in self._resolvers:
            from .super_resolution import SuperResolver

            self._resolvers[name] = SuperResolver.from_pretrained(name, scale=self.scale, **self.settings)
        return self._resolvers[name]

    @property
    def device(self):
        return self.resolver(self.pair[0]).device

    @property
    def dtype(self):
        return self.resolver(self.pair[0]).dtype

    def choose(self, colour: torch.Tensor, jpeg_quality: int | None = None) -> SRChoice:
        """Measure ``colour`` ``(1, C, H, W)`` and pick; the result is also kept as ``last_choice``."""
        self.last_choice = decide(measure_input(colour, jpeg_quality), *self.pair)
        return self.last_choice

    def upscale(self, colour: torch.Tensor, alpha: torch.Tensor | None = None, outscale: float | None = None,
                jpeg_quality: int | None = None):
        choice = self.choose(colour, jpeg_quality)
        return self.resolver(choice.model).upscale(colour, alpha, outscale=outscale)

    def __call__(self, image, outscale: float | None = None, jpeg_quality: int | None = None):
        return self.run(image, outscale, jpeg_quality).image

    def run(self, image, outscale: float | None = None, jpeg_quality: int | None = None):
        """As ``__call__``, returning a :class:`restore.pipelines.results.SRResult` with the model chosen,
        why, and the measures behind the choice."""
        from ..convert import to_tensor

        tensor, _, _ = to_tensor(image)
        choice = self.choose(tensor[:1, :3].float(), jpeg_quality)
        result = self.resolver(choice.model).run(image, outscale)
        result.reason, result.measures = choice.reason, dict(choice.measures)
        return result
