"""Options shared by the commands that run a network (one definition, one help text)."""

from __future__ import annotations

import argparse

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
