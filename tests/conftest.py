"""Shared fixtures: small images made on the fly (never data from ../shared), and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A 48x64 uint8 RGB image with smooth structure and texture (deterministic)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    base = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=2).astype(np.float64)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def run_cli(capsys):
    """Run ``restore ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from restore.cli.main import main

    def _run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def run_restore_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``restore`` command in a fresh interpreter (what a user's shell does)."""
    return subprocess.run([sys.executable, "-m", "restore.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def load_script(relative_path: str):
    """A repository script (``tools/x.py``, ``benchmarks/y.py``) imported as a module, for its ``main``."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
