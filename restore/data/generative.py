"""Image sets for the generative priors (DCGAN, VAE), held in memory as uint8 and served in [0, 1].

Sources, picked by :func:`load_generative_data` from ``data``:

* ``None`` / ``"fashion-mnist"`` / a folder holding the IDX files: Fashion-MNIST (default: the Debian
  package's ``/usr/share/datasets/fashion-mnist``). Its 28x28 images are zero-padded by 2 pixels to
  32x32 (the background is 0, so padding adds no edge and keeps the 8-bit values exact);
  the held-out split is the official 10,000-image test set.
* a ``.tar``/``.tar.gz`` archive of images, or a folder of images (e.g. the 64x64 CelebA crops): each
  image is centre-cropped to a square and resized to the model resolution (area resampling);
  the last ``holdout`` images in name order are held out.

Example:
    >>> from restore.data.generative import load_generative_data
    >>> train = load_generative_data(None, resolution=32, channels=1, split="train")  # doctest: +SKIP
    >>> train[0].shape  # doctest: +SKIP
    torch.Size([1, 32, 32])
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import RestoreError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
FASHION_MNIST_LABELS = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLITS = ("train", "heldout")


class ImageSet(torch.utils.data.Dataset):
    """uint8 images (N, C, H, W) served as float (C, H, W) in [0, 1]; ``batch(indices)`` for fast slicing."""

    def __init__(self, images: torch.Tensor, source: str = ""):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("ImageSet wants a uint8 (N, C, H, W) tensor")
        self.images, self.source = images, source

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index].float() / 255

    def batch(self, indices: torch.Tensor | slice) -> torch.Tensor:
        """Images at ``indices`` as (B, C, H, W) float in [0, 1]."""
        return self.images[indices].float() / 255


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array of its stored shape (uint8 data)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise RestoreError(f"{path}: cannot read IDX file ({exc})") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise RestoreError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise RestoreError(f"{path}: IDX file is truncated ({body.size} of {int(np.prod(dims))} values)")
    return body.reshape(dims)


def _find_idx(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise RestoreError(f"{root}: no {stem}[.gz] (Fashion-MNIST IDX files; "
                       "install Debian's dataset-fashion-mnist or pass --data FOLDER)")


def load_fashion_mnist(split: str = "train", root: str | os.PathLike | None = None, *, resolution: int = 32,
                       with_labels: bool = False):
    """Fashion-MNIST ``train`` (60,000) or ``heldout``/``test`` (10,000) as an :class:`ImageSet` of
    1 x ``resolution`` x ``resolution`` (28 or 32; 32 zero-pads 2 pixels a side). With ``with_labels``
    returns ``(ImageSet, labels uint8 tensor)``."""
    root = Path(root) if root else FASHION_MNIST_DIR
    key = "train" if split == "train" else "test"
    images = torch.from_numpy(read_idx(_find_idx(root, FASHION_MNIST_FILES[key])).copy())[:, None]
    if resolution == 32:
        images = torch.nn.functional.pad(images, (2, 2, 2, 2))
    elif resolution != 28:
        raise RestoreError(f"Fashion-MNIST is served at 28 or 32 pixels, not {resolution}")
    dataset = ImageSet(images, source=f"Fashion-MNIST {key} ({root})")
    if with_labels:
        return dataset, torch.from_numpy(read_idx(_find_idx(root, FASHION_MNIST_LABELS[key])).copy())
    return dataset


def _square_resize(img: Image.Image, resolution: int, channels: int) -> np.ndarray:
    img = img.convert("L" if channels == 1 else "RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != resolution:
        img = img.resize((resolution, resolution), Image.Resampling.BOX if side > resolution
                         else Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _image_names(names: list[str]) -> list[str]:
    from ..io import IMAGE_EXTENSIONS

    return sorted(n for n in names if Path(n).suffix.lower() in IMAGE_EXTENSIONS and not Path(n).name.startswith("."))


def load_image_collection(path: str | os.PathLike, *, resolution: int, channels: int = 3, split: str = "train",
                          holdout: int = 1000, limit: int | None = None) -> ImageSet:
    """Images from a folder or a tar(.gz) archive, centre-cropped and resized to ``resolution``.

    ``split="train"`` gives all but the last ``holdout`` images (name order), ``"heldout"`` those last
    ones; ``limit`` keeps only the first ``limit`` of the split (for dry runs)."""
    path = Path(path)
    if split not in SPLITS:
        raise RestoreError(f"split must be one of {SPLITS}, not {split!r}")
    if path.is_dir():
        names = _image_names([str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()])
        read = lambda name: (path / name).read_bytes()  # noqa: E731
        archive = None
    elif path.is_file() and tarfile.is_tarfile(path):
        archive = tarfile.open(path)
        members = {m.name: m for m in archive.getmembers() if m.isfile()}
        names = _image_names(list(members))
        read = lambda name: archive.extractfile(members[name]).read()  # noqa: E731
    else:
        raise RestoreError(f"{path}: not an image folder, a tar archive or Fashion-MNIST IDX files")
    if len(names) <= holdout:
        raise RestoreError(f"{path}: {len(names)} images, not enough to hold out {holdout}")
    names = names[:-holdout] if split == "train" else names[-holdout:]
    if limit:
        names = names[:limit]
    out = np.empty((len(names), channels, resolution, resolution), dtype=np.uint8)
    from ..io import max_pixels_default

    limit_pixels = max_pixels_default()
    try:
        for i, name in enumerate(names):
            try:
                with Image.open(io.BytesIO(read(name))) as img:
                    if img.size[0] * img.size[1] > limit_pixels:  # the same bomb guard as restore.io
                        raise RestoreError(f"{path}/{name}: declared size {img.size[0]}x{img.size[1]} exceeds the "
                                           f"pixel limit of {limit_pixels / 1e6:.0f} MP (RESTORE_MAX_PIXELS)")
                    out[i] = _square_resize(img, resolution, channels)
            except (OSError, ValueError) as exc:
                raise RestoreError(f"{path}/{name}: cannot decode image ({exc})") from None
    finally:
        if archive is not None:
            archive.close()
    return ImageSet(torch.from_numpy(out), source=f"{path} ({split}, {len(names)} images)")


def is_fashion_mnist(data: str | os.PathLike | None) -> bool:
    """Whether ``data`` names Fashion-MNIST: ``None``, ``"fashion-mnist"`` or a folder with its IDX files."""
    if data is None or str(data).lower() in ("fashion-mnist", "fashion_mnist"):
        return True
    p = Path(data)
    return p.is_dir() and any((p / (FASHION_MNIST_FILES["train"] + s)).is_file() for s in ("", ".gz"))


def load_generative_data(data: str | os.PathLike | None, *, resolution: int, channels: int, split: str = "train",
                         holdout: int = 1000, limit: int | None = None) -> ImageSet:
    """The training or held-out :class:`ImageSet` for ``data`` (see the module docstring)."""
    if split not in SPLITS:
        raise RestoreError(f"split must be one of {SPLITS}, not {split!r}")
    if is_fashion_mnist(data):
        if channels != 1:
            raise RestoreError("Fashion-MNIST is grayscale: use channels = 1")
        root = None if data is None or not Path(str(data)).is_dir() else data
        ds = load_fashion_mnist(split, root, resolution=resolution)
        if limit:
            ds = ImageSet(ds.images[:limit], ds.source)
        return ds
    if not Path(data).exists():
        raise RestoreError(f"{data}: no such file or folder")
    return load_image_collection(data, resolution=resolution, channels=channels, split=split,
                                 holdout=holdout, limit=limit)
