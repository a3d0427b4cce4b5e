"""Weights files: one home for reading and writing them, beneath everything that does.

A model is a ``NAME.safetensors`` file (never a pickle) with its JSON model card ``NAME.json`` beside
it. This module hashes files (:func:`sha256_file`), writes safetensors with a canonical header so the
same tensors always give the same bytes (:func:`save_safetensors`), loads them checked against a sha256
(:func:`load_safetensors`), reads cards (:func:`read_card`) and exports a network as both
(:func:`export_model`). The registry of shipped models (:mod:`restore.registry`), the offline
backbones (:mod:`restore.backbones`), the training loops and the tools that train nothing all use it.

Only the standard library at import; torch and safetensors are imported where they are used.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "x.bin").write_bytes(b"abc") and sha256_file(folder / "x.bin")[:12]
    'ba7816bf8f01'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import RestoreError

if TYPE_CHECKING:  # torch is imported where it is used: commands that need no network start fast
    import torch


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of the file at ``path`` (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                     metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (CPU, contiguous) to ``path`` atomically, with a canonical header.

    safetensors writes its metadata keys in hash order (safetensors issue #584), so two exports of the
    same tensors would differ in bytes and sha256; here the metadata keys are sorted, and the same
    tensors and metadata always give the same file.

    >>> save_safetensors("w.safetensors", {"w": torch.zeros(2)}, {"arch": "dcgan"})  # doctest: +SKIP
    """
    from safetensors.torch import save

    from .io import atomic_write_bytes

    blob = save(tensors, metadata=metadata)
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned, as safetensors writes it
    return atomic_write_bytes(path, len(text).to_bytes(8, "little") + text + blob[8 + size:], overwrite=True)


def load_safetensors(path: str | os.PathLike, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors state dict, refusing it when its sha256 differs from ``sha256``.

    Tensors come back in float32 (shipped files may be fp16 to keep them small).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise RestoreError(f"{path}: weights file not found")
    if path.suffix != ".safetensors":
        raise RestoreError(f"{path}: only .safetensors weights are loaded (no pickles)")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise RestoreError(f"{path}: sha256 mismatch (expected {sha256[:12]}..., got {actual[:12]}...); "
                               "the file was changed or damaged, refusing to load it")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RestoreError(f"{path}: not a valid safetensors file ({exc})") from None
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def looks_like_weights_path(name_or_path: str | os.PathLike) -> bool:
    """Whether a ``--model`` value names a file (ends in ``.safetensors`` or holds a path separator), not a registry name."""
    text = os.fspath(name_or_path)
    return Path(text).suffix == ".safetensors" or any(sep in text for sep in "/\\")


def check_weights_file(name_or_path: str | os.PathLike | None) -> None:
    """For a value that looks like a weights file (:func:`looks_like_weights_path`): raise a one-line
    :class:`RestoreError` when the file or its JSON card beside it is missing. Registry names pass (they
    are checked on loading). Cheap and torch-free: commands call it before loading anything."""
    if name_or_path is None or not looks_like_weights_path(name_or_path):
        return
    path = Path(name_or_path)
    if not path.is_file():
        raise RestoreError(f"{name_or_path}: weights file not found"
                           + (" (it is a folder)" if path.is_dir() else ""))
    if path.suffix == ".safetensors" and not path.with_suffix(".json").is_file():
        raise RestoreError(f"{name_or_path}: no model card ({path.with_suffix('.json').name}) beside the weights")


def read_card(path: str | os.PathLike) -> dict:
    """The JSON model card saved beside a weights file (``NAME.json`` for ``NAME.safetensors``)."""
    card = Path(path).with_suffix(".json")
    if not card.is_file():
        raise RestoreError(f"{path}: no model card ({card.name}) beside the weights")
    try:
        data = json.loads(card.read_text())
    except (ValueError, OSError) as exc:
        raise RestoreError(f"{card}: model card is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RestoreError(f"{card}: model card must be a JSON object")
    return data


def export_model(out_dir: str | os.PathLike, name: str, state_dict: dict[str, torch.Tensor], card: dict,
                 *, fp16: bool = False) -> Path:
    """Write ``NAME.safetensors`` (fp16 when asked) and ``NAME.json`` (the model card, with the file's sha256).

    ``card`` must hold at least ``arch`` and ``config`` (what :func:`restore.registry.load_model` needs);
    add scale/resolution, recipe, data, steps, wall time, device, validation metrics, command.
    """
    for key in ("arch", "config"):
        if key not in card:
            raise ValueError(f"model card needs {key!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    tensors = {k: (v.detach().half() if fp16 and v.is_floating_point() else v.detach()).contiguous().cpu()
               for k, v in state_dict.items()}
    save_safetensors(weights, tensors, metadata={"arch": card["arch"], "format": "restore"})
    card = dict(card, file=weights.name, sha256=sha256_file(weights), dtype="float16" if fp16 else "float32")
    card_path = weights.with_suffix(".json")
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2, default=str) + "\n")
    os.replace(tmp, card_path)
    return weights
