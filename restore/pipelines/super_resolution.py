"""Super-resolution for users: :class:`SuperResolver` upscales PIL images, numpy arrays and tensors.

What it does for you:

* **Same type back.** A PIL image gives a PIL image, a numpy ``(H, W[, C])`` array (uint8, uint16 or
  float) the same dtype and layout, a ``(B, C, H, W)`` / ``(C, H, W)`` tensor in ``[0, 1]`` a tensor.
* **Faithful channels.** Alpha is upscaled separately with bicubic interpolation (it is a mask, not
  a photo: the network was never trained on it, and bicubic keeps edges smooth and values in range).
  A gray image runs through the network as a 3-channel copy and comes back gray (ITU-R 601 luma of
  the result). 16-bit stays 16-bit (the restorer of :func:`restore.pipelines.convert.to_tensor`).
* **Any size, bounded memory.** Images larger than :data:`AUTO_TILE` squared are cut into tiles on the
  host (:mod:`restore.pipelines.tiling`); only the current tile is on the device. The context pad
  defaults to the network's receptive radius, so tiled output equals untiled output (< 1e-3) for any
  tile >= :data:`restore.pipelines.tiling.MIN_TILE`. On out-of-memory the tile is halved and the image
  redone.
* **Arbitrary scale.** ``outscale`` other than the model's scale: the model's scale first, then an
  antialiased bicubic resize to ``round(outscale * H) x round(outscale * W)``.
* **Fast.** ``inference_mode``, BatchNorm folded into the convolutions, ``channels_last``, bf16/fp16
  autocast on CUDA (fp32 on CPU by default), optional ``torch.compile``. A half-precision tile with
  NaN/inf output is recomputed in fp32.

Example:
    >>> import torch
    >>> from restore.archs.srresnet import SRResNet
    >>> from restore.pipelines.super_resolution import SuperResolver
    >>> sr = SuperResolver(SRResNet(scale=2, num_blocks=1, channels=8), device="cpu")
    >>> sr(torch.rand(1, 3, 20, 30)).shape
    torch.Size([1, 3, 40, 60])
    >>> sr(torch.rand(1, 3, 20, 30), outscale=1.5).shape
    torch.Size([1, 3, 30, 45])

Shipped weights (when they exist): ``SuperResolver.from_pretrained("srresnet-x4")``; a local file
written by :func:`restore.training.engine.export_model`: ``SuperResolver.from_pretrained("my.safetensors")``.
"""

from __future__ import annotations

import copy
import math
import os
import time

import torch
from torch import nn

from ..data.degradation import resize
from ..device import resolve_device, resolve_precision
from ..errors import RestoreError
from .convert import to_tensor
from .results import SRResult
from .tiling import DEFAULT_OVERLAP, MIN_TILE, receptive_radius, tiled_apply, tile_count

#: Images up to AUTO_TILE x AUTO_TILE input pixels run in one pass; larger ones are tiled with this
#: core size. On CUDA a 512^2 x4 tile of a 16-block SRResNet peaks at about 3 GB (bf16 less).
AUTO_TILE = {"cuda": 512, "mps": 384, "cpu": 384}

NO_WEIGHTS_MESSAGE = ("no super-resolution weights are shipped yet; pass a local .safetensors file (with its "
                      ".json model card beside it), e.g. --model path/to/srresnet-x4.safetensors")


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _check_tiling(tile: int | None, tile_pad: int | None) -> None:
    for option, value in (("tile", tile), ("tile_pad", tile_pad)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise RestoreError(f"{option} must be a whole number of pixels, got {value!r}")
    if tile is not None and tile < 0 or tile and tile < MIN_TILE:
        raise RestoreError(f"--tile must be 0 (automatic) or at least {MIN_TILE} pixels, got {tile}")
    if tile_pad is not None and tile_pad < 0:
        raise RestoreError(f"--tile-pad must be >= 0, got {tile_pad}")


def output_size(height: int, width: int, outscale: float) -> tuple[int, int]:
    """The documented output size: ``outscale * height`` by ``outscale * width`` rounded to the nearest
    pixel (halves up, unlike Python's ``round``), at least 1."""
    return max(1, math.floor(outscale * height + 0.5)), max(1, math.floor(outscale * width + 0.5))


class SuperResolver:
    """An SR network ready for inference on images of any size and type.

    Args:
        model: an upscaling network on ``(B, C, H, W)`` in ``[0, 1]`` (e.g. SRResNet). It is copied,
            never modified: BatchNorm is folded into the copy.
        scale: its integer factor (default ``model.scale``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device``.
        precision: ``"auto"`` (bf16/fp16 on CUDA, fp32 elsewhere), ``"fp32"``, ``"fp16"``, ``"bf16"``.
        tile: core tile size in input pixels; ``None``/0 = automatic (one pass up to :data:`AUTO_TILE`
            squared, tiles of that size beyond). Must be >= :data:`MIN_TILE` otherwise.
        tile_pad: context around each tile in input pixels; default = the receptive radius (exact).
        overlap: feather width between tiles in input pixels.
        compile: wrap the network in ``torch.compile`` (worth it on CUDA for many images).
        name: a label (the registry name or file stem).
        progress: a progress bar on stderr over the tiles of an image cut into more than one (default: silent).

    Attributes:
        stats: counters of the last call: ``tiles``, ``fp32_retries`` (half-precision tiles redone in
            fp32), ``oom_retries`` (times the tile was halved), ``tile`` (core size used).
    """

    def __init__(self, model: nn.Module, *, scale: int | None = None, device: str | torch.device = "auto",
                 precision: str = "auto", tile: int | None = None, tile_pad: int | None = None,
                 overlap: int = DEFAULT_OVERLAP, compile: bool = False, name: str = "model",
                 progress: bool = False):
        from ..archs.fusion import fold_batchnorm

        self.device = resolve_device(device)
        self.dtype = resolve_precision(precision, self.device)
        self.scale = int(scale or getattr(model, "scale", 0))
        if self.scale < 1:
            raise RestoreError("the model's upscaling factor is unknown: pass scale=")
        _check_tiling(tile, tile_pad)
        self.name, self.progress = name, bool(progress)
        self.in_channels = int(getattr(model, "in_channels", 3))
        self.receptive_radius = receptive_radius(model)
        self.tile = tile or None
        self.tile_pad = self.receptive_radius if tile_pad is None else int(tile_pad)
        self.overlap = int(overlap)
        net = fold_batchnorm(copy.deepcopy(model).eval())
        for p in net.parameters():
            p.requires_grad_(False)
        net = net.to(self.device, memory_format=torch.channels_last)
        self.network = net
        self._forward = torch.compile(net, dynamic=True) if compile else net
        self.stats: dict = {}

    # ------------------------------------------------------------------ construction from weights
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str | torch.device = "auto",
                        precision: str = "auto", tile: int | None = None, tile_pad: int | None = None,
                        compile: bool = False, *, scale: int | None = None, progress: bool = False) -> "SuperResolver":
        """Load a shipped model by registry name, a local ``.safetensors`` file with its JSON card, or a
        classical upscaler (``"bicubic"``, ``"lanczos"``: no weights, ``scale`` defaults to 4).

        With no name, the shipped SRResNet of ``scale`` (x4 when ``None``) is taken; an SRGAN only when
        nothing else of that scale ships. Weights are checked against their sha256 (manifest or card); a
        changed file is refused.

        Raises:
            RestoreError: unknown name, no shipped weights, tampered file, or not an SR model.
        """
        from ..archs.classical import CLASSICAL_UPSCALERS, ClassicalUpscaler
        from ..registry import list_models, load_model
        from ..weight_files import check_weights_file

        if isinstance(name_or_path, str) and name_or_path in CLASSICAL_UPSCALERS:
            return cls(ClassicalUpscaler(scale or 4, name_or_path), device=device, precision=precision, tile=tile,
                       tile_pad=tile_pad, compile=False, name=name_or_path, progress=progress)
        if name_or_path is None:
            shipped = [e for e in list_models("sr") if scale is None or e.scale == scale]
            if not shipped:
                raise RestoreError(NO_WEIGHTS_MESSAGE if not list_models("sr") else
                                   f"no shipped super-resolution model for x{scale} (shipped: "
                                   f"{', '.join(f'{e.name} (x{e.scale})' for e in list_models('sr'))})")
            # the PSNR-oriented SRResNet before an SRGAN (a GAN invents texture, so it is asked for by
            # name), and x4 first when any scale will do
            name_or_path = min(shipped, key=lambda e: (e.kind == "srgan", e.scale != 4, e.name)).name
        check_weights_file(name_or_path)
        model, info = load_model(name_or_path, task="sr")
        model_scale = info.get("scale") or info["config"].get("scale")
        if not model_scale:
            raise RestoreError(f"{name_or_path}: not a super-resolution model (its card names no scale)")
        if scale is not None and int(model_scale) != int(scale):
            raise RestoreError(f"{info['name']} upscales x{model_scale}, not x{scale} (use --outscale for "
                               "other output sizes)")
        return cls(model, scale=int(model_scale), device=device, precision=precision, tile=tile,
                   tile_pad=tile_pad, compile=compile, name=info["name"], progress=progress)

    def with_tiling(self, tile: int | None = None, tile_pad: int | None = None) -> "SuperResolver":
        """This resolver with other tiling (``tile`` and ``tile_pad`` as for the constructor), sharing its
        network and compiled forward: nothing is copied or compiled again (e.g. to time tiled against
        untiled on one network, ``benchmarks/sr_speed.py``). This resolver is left as it was.

        Example:
            >>> import torch
            >>> from restore.archs.srresnet import SRResNet
            >>> whole = SuperResolver(SRResNet(scale=2, num_blocks=1, channels=8), device="cpu")
            >>> tiled = whole.with_tiling(32)
            >>> tiled.network is whole.network, tiled.tile, whole.tile
            (True, 32, None)
            >>> x = torch.rand(1, 3, 70, 90)
            >>> bool((tiled.upscale(x)[0] - whole.upscale(x)[0]).abs().max() < 1e-3), tiled.stats["tiles"]
            (True, 9)
        """
        _check_tiling(tile, tile_pad)
        other = copy.copy(self)
        other.tile = tile or None
        other.tile_pad = self.receptive_radius if tile_pad is None else int(tile_pad)
        other.stats = {}
        return other

    # ------------------------------------------------------------------ public entry points
    def __call__(self, image, outscale: float | None = None):
        """Upscale ``image`` (PIL, numpy or tensor, see the module docstring) and return the same type.

        ``outscale`` (default: the model's scale) sets the output size to ``round(outscale * H) x
        round(outscale * W)``.
        """
        return self.run(image, outscale).image

    def run(self, image, outscale: float | None = None) -> SRResult:
        """As ``__call__``, returning a :class:`restore.pipelines.results.SRResult`: the image (its type
        preserved), the model's name, the seconds and the tiling counters (:attr:`stats`).

        Example:
            >>> import torch
            >>> from restore.archs.srresnet import SRResNet
            >>> result = SuperResolver(SRResNet(scale=2, num_blocks=1, channels=8), device="cpu", name="tiny").run(
            ...     torch.rand(1, 3, 20, 30))
            >>> result.image.shape, result.model, result.reason, result.stats["tiles"]
            (torch.Size([1, 3, 40, 60]), 'tiny', None, 1)
        """
        colour, alpha, restore_type = to_tensor(image)
        start = time.perf_counter()
        colour, alpha = self.upscale(colour, alpha, outscale=outscale)
        seconds = time.perf_counter() - start
        return SRResult(restore_type(colour, alpha), self.name, seconds=seconds, stats=dict(self.stats))

    def upscale(self, colour: torch.Tensor, alpha: torch.Tensor | None = None,
                outscale: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, C, H, W)`` colour (C = 1 or 3) and optional ``(B, 1, H, W)`` alpha in [0, 1] -> upscaled pair.

        Results are float32 on the host, clamped to [0, 1]. Inputs are not modified.
        """
        if colour.dim() != 4 or colour.shape[1] not in (1, 3):
            raise RestoreError(f"expected (B, 1 or 3, H, W) colour, got {tuple(colour.shape)}")
        outscale = float(self.scale if outscale is None else outscale)
        if not outscale > 0:
            raise RestoreError(f"--outscale must be positive, got {outscale}")
        height, width = colour.shape[-2:]
        target = output_size(height, width, outscale)
        from ..io import max_pixels_default

        if target[0] * target[1] > max_pixels_default():
            raise RestoreError(f"the output would be {target[1]}x{target[0]} ({target[0] * target[1] / 1e6:.0f} MP), "
                               f"above the pixel limit of {max_pixels_default() / 1e6:.0f} MP "
                               "(lower --outscale or raise RESTORE_MAX_PIXELS)")
        if not torch.isfinite(colour).all():
            raise RestoreError("the image holds NaN or infinite values")
        results = [self._upscale_one(colour[i:i + 1].float().cpu()) for i in range(colour.shape[0])]
        out = torch.cat(results) if len(results) > 1 else results[0]
        if out.shape[-2:] != target:
            out = resize(out, target)
        if alpha is not None:
            # Alpha is a mask: bicubic straight to the target size (antialiased when shrinking).
            alpha = resize(alpha.float().cpu(), target)
        return out, alpha

    # ------------------------------------------------------------------ internals
    def _upscale_one(self, x: torch.Tensor) -> torch.Tensor:
        gray = x.shape[1] == 1 and self.in_channels == 3
        if gray:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != self.in_channels:
            raise RestoreError(f"{self.name} takes {self.in_channels}-channel images, got {x.shape[1]}")
        height, width = x.shape[-2:]
        auto = AUTO_TILE.get(self.device.type, 384)
        tile = self.tile or (max(height, width, MIN_TILE) if height * width <= auto * auto else auto)
        self.stats = {"tiles": 0, "fp32_retries": 0, "oom_retries": 0, "tile": tile}
        bar = None
        try:
            while True:
                tiles = tile_count(height, width, tile)
                if self.progress and tiles > 1:  # one pass needs no bar; a halved tile starts it again
                    from ..device import progress

                    if bar is None:
                        bar = progress(tiles, desc=f"{self.name} x{self.scale}", unit="tile", leave=False)
                    else:
                        bar.reset(total=tiles)
                try:
                    out = tiled_apply(self._run_tile, x, scale=self.scale, tile=tile, pad=self.tile_pad,
                                      overlap=self.overlap, on_tile=bar.update if bar is not None else None)
                    break
                except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
                    if not _is_oom(exc):
                        raise
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                    smaller = min(tile, max(height, width)) // 2
                    if smaller < MIN_TILE:
                        raise RestoreError(f"out of memory on {self.device} even with {MIN_TILE}-pixel tiles") from None
                    tile = smaller
                    self.stats.update(tile=tile, oom_retries=self.stats["oom_retries"] + 1, tiles=0)
        finally:
            if bar is not None:
                bar.close()
        if gray:
            from kornia.color import rgb_to_grayscale

            out = rgb_to_grayscale(out)
        return out.clamp_(0, 1)

    @torch.inference_mode()
    def _run_tile(self, tile: torch.Tensor) -> torch.Tensor:
        """One host tile -> device -> network -> host float32 (fp32 redo if half precision overflowed)."""
        self.stats["tiles"] += 1
        x = tile.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        if self.dtype != torch.float32:
            with torch.autocast(self.device.type, dtype=self.dtype):
                y = self._forward(x)
            if torch.isfinite(y).all():
                return y.float().cpu()
            self.stats["fp32_retries"] += 1
        return self._forward(x).float().cpu()

    def __repr__(self) -> str:
        return (f"SuperResolver({self.name!r}, x{self.scale}, device={self.device}, dtype={self.dtype}, "
                f"tile={self.tile or 'auto'}, tile_pad={self.tile_pad})")


__all__ = ["SuperResolver", "output_size", "AUTO_TILE", "MIN_TILE", "NO_WEIGHTS_MESSAGE", "tile_count"]
