"""Options shared by the commands that run a network (one definition, one help text)."""

from __future__ import annotations

import argparse
import math

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PRECISION_HELP = ("compute precision: auto = bf16 on CUDA GPUs and on CPUs with bf16 units (AMX / AVX512-BF16), "
                  "fp32 elsewhere (RESTORE_CPU_BF16=0|1 overrides the CPU detection); fp16 is CUDA-only")


def add_precision(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """``--precision auto|fp32|bf16|fp16``."""
    p.add_argument("--precision", default=default, choices=PRECISIONS, help=PRECISION_HELP)


def add_trust_unverified(p: argparse.ArgumentParser) -> None:
    """``--trust-unverified``: load local weights whose card records no sha256 (refused otherwise)."""
    p.add_argument("--trust-unverified", action="store_true",
                   help="load weights whose model card records no sha256 (refused by default)")


def number(kind=float, *, low=None, high=None, low_open: bool = False):
    """An argparse ``type`` for a finite ``kind`` (int or float) in ``[low, high]`` (``(low, high]`` with ``low_open``).

    NaN and infinities are refused, so ``--lambda nan`` cannot silently fill holes with black.
    """
    def parse(text: str):
        try:
            value = kind(text) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


SEED = number(int, low=0, high=2**63 - 1)
