"""Options shared by the commands that run a network (one definition, one help text)."""

from __future__ import annotations

import argparse
import sys

# the options' checks live in the library, shared with the server
from restore.settings import PRECISION_HELP, PRECISIONS, SEED, number  # noqa: F401 (re-exported to the commands)


#: the one help text of ``--device`` (every command that runs a network)
DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps (default: auto)"


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|cuda|cuda:N|mps`` (default ``auto``: CUDA, then MPS, then the CPU)."""
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def add_precision(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """``--precision auto|fp32|bf16|fp16``."""
    p.add_argument("--precision", default=default, choices=PRECISIONS, help=PRECISION_HELP)


def add_trust_unverified(p: argparse.ArgumentParser) -> None:
    """``--trust-unverified``: load local weights whose card records no sha256 (refused otherwise)."""
    p.add_argument("--trust-unverified", action="store_true",
                   help="load weights whose model card records no sha256 (refused by default)")


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress``: no progress bars (they are drawn on stderr only when it is a terminal)."""
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (drawn on stderr only when it is a terminal)")


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_enabled(args: argparse.Namespace) -> bool:
    """Whether a command draws progress bars: stderr is a terminal and ``--no-progress`` was not given."""
    return not getattr(args, "no_progress", False) and _stderr_is_tty()
