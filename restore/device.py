"""Choosing the device and the numeric precision, the same way everywhere.

Example:
    >>> from restore.device import resolve_device
    >>> resolve_device("cpu").type
    'cpu'
"""

from __future__ import annotations

import torch

from .errors import RestoreError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else MPS, else CPU; ``"cuda"``/``"cuda:1"``/``"mps"``/``"cpu"`` as asked.

    Raises RestoreError when the asked device is not there.
    """
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RestoreError("--device cuda asked for, but no CUDA GPU is available (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RestoreError("--device mps asked for, but MPS is not available (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise RestoreError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """``"auto"`` -> bf16 on CUDA GPUs that support it (fp16 otherwise), fp32 on CPU and MPS."""
    precision = precision.lower()
    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if precision not in table:
        raise RestoreError(f"unknown precision {precision!r} (use auto, fp32, fp16 or bf16)")
    if device.type == "cpu" and precision == "fp16":
        raise RestoreError("fp16 is not supported on the CPU (use fp32 or bf16)")
    return table[precision]
