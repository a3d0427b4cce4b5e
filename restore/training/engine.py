"""What every training loop in restore shares, and nothing more.

Recipes (TOML files in ``restore/training/recipes/`` with command-line overrides), a distributed
context (DDP under ``torchrun``, or a single process), atomic resumable
checkpoints written every N steps and on SIGINT/SIGTERM, a NaN/inf guard, a JSONL metrics log, EMA of
weights; the export of a trained network (safetensors plus a JSON model card) is
:func:`restore.weight_files.export_model`.

The loops themselves (``restore/training/sr.py``, ``restore/training/generative.py``) stay short
and readable: "(1) update D, (2) update G" in plain code, these helpers around it.

Example:
    >>> from restore.training.engine import load_recipe
    >>> recipe = load_recipe("srresnet", {"steps": 10})  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import RestoreError
# The export lives with the other weights-file helpers (restore/weight_files.py); the name stays here for
# the training loops that call ``engine.export_model``.
from ..weight_files import export_model  # noqa: F401

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


class TrainingDiverged(RestoreError):
    """A loss or a gradient became NaN/inf; training stopped without saving the broken state."""


# ----------------------------------------------------------------------------- recipes
def load_recipe(name_or_path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Read a recipe (a name in ``recipes/`` or a path to a TOML file), then apply ``overrides``.

    Overrides whose value is ``None`` are ignored (unset command-line flags). Unknown keys are refused,
    so a misspelt flag cannot silently do nothing.
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = RECIPES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.toml")))
        raise RestoreError(f"unknown recipe {str(name_or_path)!r} (shipped: {known})")
    try:
        recipe = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RestoreError(f"{path}: invalid TOML ({exc})") from None
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in recipe:
            raise RestoreError(f"recipe {path.stem!r} has no setting {key!r}")
        recipe[key] = value
    recipe["recipe"] = path.stem
    return recipe


# ----------------------------------------------------------------------------- distributed
@dataclass
class Distributed:
    """Single-process or DDP context. Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group is made
    with NCCL on CUDA and gloo on CPU; ``wrap`` puts a model in DistributedDataParallel."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, device: torch.device) -> "Distributed":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(device=device)
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        return cls(rank=rank, world_size=world, local_rank=local, device=device)

    def wrap(self, model: nn.Module) -> nn.Module:
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, broadcast_buffers=True)

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def all_reduce_mean(self, value: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return value
        import torch.distributed as dist

        value = value.clone()
        dist.all_reduce(value)
        return value / self.world_size

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module inside DDP / torch.compile wrappers."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def seed_everything(seed: int, rank: int = 0) -> torch.Generator:
    """Seed torch (and numpy) differently per rank; returns a CPU generator for data sampling."""
    import random

    import numpy as np

    torch.manual_seed(seed + rank)
    np.random.seed((seed + rank) % 2**32)
    random.seed(seed + rank)
    return torch.Generator().manual_seed(seed + rank)


# ----------------------------------------------------------------------------- safety
def check_finite(step: int, **losses: torch.Tensor | float) -> None:
    """Raise :class:`TrainingDiverged` naming the step and the loss that went NaN/inf."""
    for name, value in losses.items():
        v = float(value.detach()) if torch.is_tensor(value) else float(value)
        if not math.isfinite(v):
            raise TrainingDiverged(f"step {step}: {name} became {v}; stopped without saving this state "
                                   "(lower the learning rate, or resume from the last checkpoint)")


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop checks, so it can save a checkpoint and exit cleanly.

    Use as a context manager around the loop; a second signal stops at once.
    """

    def __init__(self):
        self.requested = False
        self._old: dict = {}

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


# ----------------------------------------------------------------------------- checkpoints
class Checkpointer:
    """Atomic checkpoints in ``OUT/checkpoints/``: ``last.pt`` (always the newest) and ``best.pt``.

    A checkpoint is a dict of state dicts and plain numbers/strings, saved through a temporary file
    and a rename, so an interruption never leaves a half-written ``last.pt``. Loaded with
    ``torch.load(weights_only=True)`` (our own files, still read with the restricted unpickler).
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.dir = Path(out_dir) / "checkpoints"

    @property
    def last(self) -> Path:
        return self.dir / "last.pt"

    def save(self, state: dict, name: str = "last.pt") -> Path:
        import tempfile

        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.dir)  # unique per writer
        os.close(fd)
        try:
            torch.save(state, tmp)
            os.replace(tmp, path)
        except BaseException as exc:  # a full disk, an interruption: no half-written file stays behind
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise RestoreError(f"{path}: cannot save the checkpoint ({exc.strerror or exc})") from None
            raise
        return path

    def remove_stale_temporaries(self) -> int:
        """Delete temp files a killed save left behind (call with the run lock held); returns how many."""
        stale = list(self.dir.glob(".*.pt.*.tmp")) + list(self.dir.glob("*.pt.tmp")) if self.dir.is_dir() else []
        for tmp in stale:
            tmp.unlink(missing_ok=True)
        return len(stale)

    def load(self, name: str = "last.pt", map_location="cpu") -> dict:
        path = self.dir / name
        if not path.is_file():
            raise RestoreError(f"{path}: no checkpoint to resume from")
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is a user-facing problem
            raise RestoreError(f"{path}: cannot read checkpoint ({exc})") from None


class RunLock:
    """An exclusive lock on a run folder (``OUT/.lock`` with the holder's PID), so two trainings never
    share one ``--out``. The OS releases it when the process ends, however it ends.

    Raises RestoreError naming the other process when the folder is in use.
    """

    def __init__(self, out_dir: str | os.PathLike, enabled: bool = True):
        self.path = Path(out_dir) / ".lock"
        self.enabled = enabled
        self._fh = None

    def __enter__(self) -> "RunLock":
        if not self.enabled:
            return self
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise RestoreError(f"{self.path.parent} is in use by another training run (PID {holder}); "
                               "wait for it or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> bool:
        if self._fh is not None:
            self._fh.close()  # closing releases the lock
            self._fh = None
        return False


class MetricsLog:
    """Append-only JSONL log (``OUT/metrics.jsonl``), one record per line, flushed as written."""

    def __init__(self, out_dir: str | os.PathLike, enabled: bool = True):
        self.path = Path(out_dir) / "metrics.jsonl"
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record) -> None:
        if not self.enabled:
            return
        record = {k: (float(v) if torch.is_tensor(v) else v) for k, v in record.items()}
        record.setdefault("time", round(time.time(), 3))
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def make_ema(model: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """Exponential moving average of ``model``'s weights (buffers too), via torch's AveragedModel."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(unwrap(model), multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
