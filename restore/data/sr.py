"""Super-resolution data: random HR crops from folders, LR by :func:`restore.data.degradation.degrade`.

Sample ``n`` of a run is a pure function of ``(seed, rank, n)``: which image, where the crop lies and
which of the 8 flips/90-degree rotations it gets. So a resumed run sees exactly the batches the
uninterrupted run would have seen, DataLoader workers need no RNG bookkeeping, DDP ranks draw
different samples, and the two ways of feeding the GPU below give identical batches:

* :func:`loader_batches` - a ``DataLoader`` whose workers decode and crop HR images on the CPU
  (pinned memory, ``non_blocking`` copies); the training step makes LR on the device.
* :class:`MemoryResidentImages` - every training image decoded once into device memory (uint8); crops,
  augmentations and the degradation all run on the device, so the GPU never waits for a loader.

Batches hold HR crops ``(B, C, P, P)`` float in [0, 1]; LR is ``degrade(hr, scale)`` on the device.

Example:
    >>> from restore.data.sr import loader_batches  # doctest: +SKIP
    >>> hr = next(loader_batches(["data/t91"], patch_size=96, batch_size=16))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import RestoreError

__all__ = ["find_images", "SRCropDataset", "MemoryResidentImages", "loader_batches", "load_validation",
           "augment", "modcrop"]


def find_images(folders: list[str | os.PathLike], min_size: int = 0) -> list[Path]:
    """Image files in ``folders`` (files and globs too), skipping those smaller than ``min_size`` pixels a side."""
    from PIL import Image

    from ..io import expand_inputs

    paths = expand_inputs([str(f) for f in folders])
    for p in paths:
        if not p.is_file():
            raise RestoreError(f"{p}: no such file or folder")
    if not min_size:
        return paths
    kept = []
    for p in paths:
        try:
            with Image.open(p) as im:  # header only: cheap
                if min(im.size) >= min_size:
                    kept.append(p)
        except OSError:
            warnings.warn(f"{p}: not a readable image, skipped", stacklevel=2)
    if not kept:
        raise RestoreError(f"no training image is at least {min_size}x{min_size} pixels in {', '.join(map(str, folders))}")
    return kept


def _load_uint8(path: Path) -> torch.Tensor:
    """``(3, H, W)`` uint8 RGB (gray repeated, alpha dropped): 4x smaller than float in memory."""
    from ..io import read_image

    t = read_image(path).tensor[0]
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return (t[:3] * 255).round_().to(torch.uint8)


def _sample_params(seed: int, rank: int, n: int, num_images: int) -> tuple[int, float, float, int]:
    """(image index, crop position fractions y and x, dihedral transform 0..7) of sample ``n``."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + rank) * 2_147_483_647 + n)
    image = int(torch.randint(num_images, (1,), generator=g))
    fy, fx = torch.rand(2, generator=g, dtype=torch.float64).tolist()
    transform = int(torch.randint(8, (1,), generator=g))
    return image, fy, fx, transform


def _crop(img: torch.Tensor, patch: int, fy: float, fx: float) -> torch.Tensor:
    h, w = img.shape[-2:]
    top, left = int(fy * (h - patch + 1)), int(fx * (w - patch + 1))
    return img[..., top:top + patch, left:left + patch]


def augment(x: torch.Tensor, transform: int) -> torch.Tensor:
    """One of the 8 flips/90-degree rotations of ``(..., H, W)`` (0 is the identity)."""
    if transform & 1:
        x = x.flip(-1)
    if transform & 2:
        x = x.flip(-2)
    if transform & 4:
        x = x.transpose(-2, -1)
    return x


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class SRCropDataset(Dataset):
    """Map-style dataset: item ``n`` is HR crop ``n`` of the run, ``(3, P, P)`` float in [0, 1].

    Args:
        paths: HR image files (see :func:`find_images`).
        patch_size: HR crop side (96 for x4 in the paper).
        seed, rank: make crops reproducible and different per DDP rank.
        augment: random flips and 90-degree rotations.
    """

    def __init__(self, paths: list[Path], patch_size: int, *, seed: int = 0, rank: int = 0, augment: bool = True):
        self.paths, self.patch_size, self.seed, self.rank, self.augment = list(paths), patch_size, seed, rank, augment
        if not self.paths:
            raise RestoreError("no training images")

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, n: int) -> torch.Tensor:
        image, fy, fx, transform = _sample_params(self.seed, self.rank, n, len(self.paths))
        crop = _crop(_load_uint8(self.paths[image]), self.patch_size, fy, fx)
        if self.augment:
            crop = augment(crop, transform)
        return crop.float().div_(255)


class _CountFrom(Sampler):
    """Sample numbers ``start, start + 1, ...`` forever (so resuming at step k starts at k * batch)."""

    def __init__(self, start: int):
        self.start = start

    def __iter__(self):
        n = self.start
        while True:
            yield n
            n += 1


def loader_batches(folders_or_paths, patch_size: int, batch_size: int, *, seed: int = 0, rank: int = 0,
                   start_step: int = 0, num_workers: int = 2, augment: bool = True,
                   pin_memory: bool = False) -> Iterator[torch.Tensor]:
    """Endless HR batches ``(B, 3, P, P)`` decoded by ``num_workers`` DataLoader workers, from step ``start_step``."""
    paths = find_images(folders_or_paths, patch_size)
    dataset = SRCropDataset(paths, patch_size, seed=seed, rank=rank, augment=augment)
    # More workers than cores only adds contention (and PyTorch's warning); on a small CPU prefer
    # the memory-resident feed (MemoryResidentImages), which needs no worker at all.
    num_workers = min(num_workers, available_cores())
    loader = DataLoader(dataset, batch_size=batch_size, sampler=_CountFrom(start_step * batch_size),
                        num_workers=num_workers, pin_memory=pin_memory, drop_last=True,
                        persistent_workers=num_workers > 0, prefetch_factor=4 if num_workers else None)
    return iter(loader)


class MemoryResidentImages:
    """Training images decoded once into ``device`` memory (uint8); batches cropped and augmented there.

    ``batch(step)`` returns the same HR batch as the ``step``-th batch of :func:`loader_batches` with
    the same seed/rank, without any CPU work besides drawing the random numbers.

    Args:
        folders_or_paths: folders, globs or a list of image paths.
        patch_size, batch_size, seed, rank, augment: as :func:`loader_batches`.
        device: where the images live (the training device).
    """

    def __init__(self, folders_or_paths, patch_size: int, batch_size: int, device: torch.device, *,
                 seed: int = 0, rank: int = 0, augment: bool = True):
        paths = find_images(folders_or_paths, patch_size)
        self.images = [_load_uint8(p).to(device) for p in paths]
        self.patch_size, self.batch_size, self.device = patch_size, batch_size, device
        self.seed, self.rank, self.augment = seed, rank, augment

    @property
    def nbytes(self) -> int:
        return sum(t.numel() for t in self.images)

    def batch(self, step: int) -> torch.Tensor:
        crops = []
        for n in range(step * self.batch_size, (step + 1) * self.batch_size):
            image, fy, fx, transform = _sample_params(self.seed, self.rank, n, len(self.images))
            crop = _crop(self.images[image], self.patch_size, fy, fx)
            crops.append(augment(crop, transform) if self.augment else crop)
        return torch.stack(crops).float().div_(255)

    def batches(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        step = start_step
        while True:
            yield self.batch(step)
            step += 1


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so height and width are multiples of ``scale`` (the SR benchmark convention)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def load_validation(folder: str | os.PathLike, scale: int, *, max_images: int | None = None,
                    max_side: int | None = None, degradation: str = "clean") -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Validation pairs ``(name, hr (1, 3, H, W), lr (1, 3, H/scale, W/scale))`` in [0, 1], sorted by name.

    HR is mod-cropped to the scale; LR is :func:`degrade` of it, then the real-world benchmark's
    ``degradation`` (``clean``, ``jpeg50``, ``noise10``..., see
    :data:`restore.data.realistic.BENCHMARK_DEGRADATIONS`; image ``i`` seeded by ``i``). ``max_side``
    centre-crops large images first (keeps CPU validation quick); ``max_images`` keeps the first ones.
    """
    from .degradation import degrade
    from .realistic import apply_benchmark_degradation

    paths = find_images([folder])
    if max_images:
        paths = paths[:max_images]
    pairs = []
    for i, p in enumerate(paths):
        hr = _load_uint8(p).float().div_(255)[None]
        if max_side:
            h, w = hr.shape[-2:]
            th, tw = min(h, max_side), min(w, max_side)
            hr = hr[..., (h - th) // 2:(h - th) // 2 + th, (w - tw) // 2:(w - tw) // 2 + tw]
        hr = modcrop(hr, scale)
        lr = degrade(hr, scale)
        if degradation != "clean":
            lr = apply_benchmark_degradation(lr, degradation, seed=i)
        pairs.append((p.stem, hr, lr))
    return pairs
