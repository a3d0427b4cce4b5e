"""The registry of shipped models: one manifest (``weights/models.json``) describes every one.

Each entry names the architecture and its config, the task, the scale (SR), the safetensors file in
``weights/``, its sha256, a licence note, headline metrics and the model card beside it. Files are
checked against their sha256 at every load: a changed file is refused.

Example:
    >>> from restore.registry import list_models
    >>> isinstance(list_models(), list)
    True
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: commands that need no network start fast
    from torch import nn

from .errors import RestoreError
from .weight_files import check_weights_file, load_safetensors, read_card

#: ``weights/`` at the repository root, installed as the ``restore.weights`` package.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
if not WEIGHTS_DIR.is_dir():  # installed (non-editable): the package-dir mapping puts it here
    WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST = "models.json"


@dataclass
class ModelEntry:
    """One shipped model.

    Attributes:
        name: registry name, e.g. ``"srresnet-x4"``.
        task: ``"sr"``, ``"gan"`` or ``"vae"``.
        arch: key of :data:`restore.archs.ARCHS`.
        config: keyword arguments of the architecture.
        file: safetensors file name inside ``weights/``.
        sha256: hex digest of that file.
        scale: upscaling factor for SR models, else ``None``.
        resolution: ``(channels, height, width)`` for generative priors, else ``None``.
        licence: licence note (code, weights, training data).
        metrics: headline validation metrics, as in the model card.
        card: model card file name inside ``weights/``.
        description: one line for ``restore models``.
        kind: what the model was trained as, from its card: ``"srresnet"`` (pixel loss) or ``"srgan"``
            (perceptual and adversarial: invents texture, so it is used only when asked for by name);
            empty for the generative priors.
    """

    name: str
    task: str
    arch: str
    config: dict
    file: str
    sha256: str
    scale: int | None = None
    resolution: list | None = None
    licence: str = ""
    metrics: dict = field(default_factory=dict)
    card: str = ""
    description: str = ""
    kind: str = ""

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file


def _manifest_path(weights_dir: Path | None = None) -> Path:
    return (weights_dir or WEIGHTS_DIR) / MANIFEST


def list_models(task: str | None = None, *, weights_dir: Path | None = None) -> list[ModelEntry]:
    """All registered models (optionally of one ``task``), sorted by name."""
    path = _manifest_path(weights_dir)
    if not path.is_file():
        return []
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise RestoreError(f"{path}: model manifest is not valid JSON ({exc})") from None
    entries = []
    for i, item in enumerate(raw.get("models", []) if isinstance(raw, dict) else [None]):
        try:
            entries.append(ModelEntry(**item))
        except TypeError as exc:  # a missing or unknown key, or not a mapping at all
            raise RestoreError(f"{path}: model entry {i + 1} is malformed ({exc})") from None
    return sorted((e for e in entries if task is None or e.task == task), key=lambda e: e.name)


def get_entry(name: str, *, task: str | None = None) -> ModelEntry:
    """The entry called ``name``; a clear error listing what exists otherwise."""
    models = list_models(task)
    for entry in models:
        if entry.name == name:
            return entry
    if task is not None:
        other = next((e for e in list_models() if e.name == name), None)
        if other is not None:
            raise RestoreError(f"{name} is a {other.task} model, not a {task} model "
                               f"(available {task} models: {', '.join(e.name for e in models) or 'none shipped yet'})")
    known = ", ".join(e.name for e in models) or "none shipped yet"
    kind = f" {task}" if task else ""
    raise RestoreError(f"unknown{kind} model {name!r} (available: {known})")


def register(entry: ModelEntry, *, weights_dir: Path | None = None) -> None:
    """Add or replace ``entry`` in the manifest (used by the export tooling)."""
    path = _manifest_path(weights_dir)
    models = [e for e in list_models(weights_dir=weights_dir) if e.name != entry.name] + [entry]
    data = {"models": [asdict(e) for e in sorted(models, key=lambda e: e.name)]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def trust_unverified_default() -> bool:
    """``RESTORE_TRUST_UNVERIFIED=1`` (set by the commands' ``--trust-unverified``) allows weights without a sha256."""
    return os.environ.get("RESTORE_TRUST_UNVERIFIED", "") == "1"


def _expected_sha256(sha256, where: str, trust_unverified: bool | None) -> str | None:
    if isinstance(sha256, str) and len(sha256) == 64:
        return sha256
    if trust_unverified if trust_unverified is not None else trust_unverified_default():
        return None
    raise RestoreError(f"{where} records no sha256 for its weights, so they cannot be verified; refusing to "
                       "load them (pass --trust-unverified if you trust the file)")


def load_model(name_or_path: str | os.PathLike, *, task: str | None = None,
               trust_unverified: bool | None = None) -> tuple[nn.Module, dict]:
    """Build and load a model from the registry name or a local ``.safetensors`` file (card beside it).

    Weights are checked against the sha256 in the manifest or the card; weights with no recorded
    sha256 are refused unless ``trust_unverified`` (default: ``RESTORE_TRUST_UNVERIFIED=1``).

    Returns ``(model in eval mode on the CPU, info)`` where ``info`` holds ``arch``, ``config``,
    ``scale``/``resolution`` and the card (a dict; empty for an entry that names none).
    """
    from . import archs

    path = Path(name_or_path)
    check_weights_file(name_or_path)  # a missing file is named as such, not as a missing card
    if path.suffix == ".safetensors" or path.is_file():
        card = read_card(path)
        if not isinstance(card.get("arch"), str) or not isinstance(card.get("config"), dict):
            raise RestoreError(f"{path.with_suffix('.json')}: model card needs 'arch' (a name) and 'config' (a mapping)")
        info = {"name": path.stem, "arch": card["arch"], "config": card["config"],
                "scale": card.get("scale"), "resolution": card.get("resolution"), "card": card}
        # The card's sha256 (written by export_model) guards local files as the manifest guards shipped ones.
        state = load_safetensors(path, _expected_sha256(card.get("sha256"), f"{path.with_suffix('.json')}",
                                                        trust_unverified))
    else:
        entry = get_entry(str(name_or_path), task=task)
        info = {"name": entry.name, "arch": entry.arch, "config": entry.config, "scale": entry.scale,
                "resolution": entry.resolution, "card": read_card(WEIGHTS_DIR / entry.card) if entry.card else {}}
        state = load_safetensors(entry.path, _expected_sha256(entry.sha256, f"models.json entry {entry.name!r}",
                                                              trust_unverified))
    if info["arch"] not in archs.ARCHS:
        raise RestoreError(f"{name_or_path}: unknown architecture {info['arch']!r} "
                           f"(known: {', '.join(sorted(archs.ARCHS))})")
    # A card must not make restore allocate gigabytes before its weights are found not to fit: no size in
    # the config may exceed what the weights themselves hold (x4 covers the sub-pixel convolutions).
    largest = max((max(t.shape) for t in state.values() if t.dim()), default=1)
    for key, value in info["config"].items():
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 4 * largest:
            raise RestoreError(f"{name_or_path}: its card's config {key}={value} does not fit the weights "
                               f"(no tensor dimension is above {largest})")
    try:
        model = archs.build(info["arch"], **info["config"])
    except (TypeError, ValueError) as exc:  # an unknown config key, an impossible value
        raise RestoreError(f"{name_or_path}: its card's config does not fit {info['arch']} ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise RestoreError(f"{name_or_path}: weights do not fit {info['arch']} {info['config']} ({first})") from None
    return model.eval(), info
