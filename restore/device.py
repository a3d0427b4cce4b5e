"""Choosing the device and the numeric precision, the same way everywhere.

The precision policy (``precision="auto"``): bf16 on CUDA GPUs that support it (fp16 on older ones),
bf16 on CPUs with native bf16 matrix units (Intel AMX / AVX512-BF16, e.g. Xeon 4th gen "Sapphire
Rapids" and later, AMD Zen 4 and later), fp32 elsewhere. ``RESTORE_CPU_BF16=0|1`` overrides the CPU
detection. Networks run under :func:`autocast`; weights, optimiser state and losses stay fp32.

Example:
    >>> from restore.device import resolve_device, resolve_precision
    >>> resolve_device("cpu").type
    'cpu'
    >>> resolve_precision("fp32", resolve_device("cpu"))
    torch.float32
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

import torch

from .errors import RestoreError

__all__ = ["resolve_device", "resolve_precision", "cpu_has_bf16", "autocast", "precision_name",
           "describe_device", "progress", "progress_to"]

_PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


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


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=1)
def _detect_cpu_bf16() -> bool:
    # torch's own probes of the CPU (oneDNN uses AMX / AVX512-BF16 kernels for bf16 convolutions);
    # /proc/cpuinfo as a fallback for builds without them.
    cpu = getattr(torch._C, "_cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None:
            try:
                if fn():
                    return True
            except Exception:  # noqa: BLE001 - a probe that fails means "unknown", not "yes"
                pass
    return bool(_cpu_flags() & {"amx_bf16", "avx512_bf16"})


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 matrix units (AMX or AVX512-BF16); ``RESTORE_CPU_BF16=0|1`` overrides.

    Raises RestoreError for another value of ``RESTORE_CPU_BF16``.
    """
    override = os.environ.get("RESTORE_CPU_BF16", "").strip()
    if override in ("0", "1"):
        return override == "1"
    if override:
        raise RestoreError(f"RESTORE_CPU_BF16 must be 0 or 1, got {override!r}")
    return _detect_cpu_bf16()


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype for ``precision`` (``auto``/``fp32``/``bf16``/``fp16``) on ``device``.

    ``auto`` -> bf16 on CUDA GPUs that support it (fp16 otherwise), bf16 on CPUs with native bf16
    units (:func:`cpu_has_bf16`), fp32 elsewhere (other CPUs, MPS). fp16 on the CPU is refused.
    """
    precision = (precision or "auto").lower()
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu" and cpu_has_bf16():
            return torch.bfloat16
        return torch.float32
    if precision not in _PRECISIONS:
        raise RestoreError(f"unknown precision {precision!r} (use auto, fp32, fp16 or bf16)")
    if device.type == "cpu" and precision == "fp16":
        raise RestoreError("fp16 is not supported on the CPU (use fp32 or bf16)")
    return _PRECISIONS[precision]


def precision_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bf16"`` (for logs and model cards)."""
    return {v: k for k, v in _PRECISIONS.items()}[dtype]


def autocast(device: torch.device, dtype: torch.dtype = torch.float32):
    """Mixed precision for the networks' forward passes: ``torch.autocast`` in ``dtype`` on ``device``,
    a no-op for fp32. Keep losses outside it (or cast to fp32) so they are computed in fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@functools.lru_cache(maxsize=None)
def _libc_malloc_trim():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to trim
        return None


def release_host_memory() -> bool:
    """Give the host heap's freed pages back to the system (glibc ``malloc_trim``); ``False`` where unavailable.

    Why: a long CPU latent search frees and reallocates the same large activation buffers every step, and
    glibc keeps the freed pages: a 1000-step search of 320 64x64 codes grew to 24 GB resident and was
    OOM-killed, 64 codes grew by 4.5 MB per step; trimmed every step they stay flat (0.62 GB).
    """
    trim = _libc_malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def describe_device(device: torch.device) -> str:
    """A human name for the device (GPU model on CUDA, CPU model and bf16 support elsewhere), for model cards."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            name = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), name)
    except OSError:
        pass
    return f"CPU ({name}, {os.cpu_count()} cores{', bf16 units' if _detect_cpu_bf16() else ''})"


def progress(total: int, initial: int = 0, desc: str = "train", enabled: bool = True, *, unit: str = "step",
             leave: bool = True):
    """A tqdm bar on stderr (steps, step/s and losses via ``set_postfix``); silent when ``enabled`` is false.

    ``leave=False`` clears it when done (a bar inside another one, e.g. the tiles of one image of a folder run).
    """
    sink = getattr(_progress_sinks, "sink", None)
    if sink is not None:  # inside progress_to(): counted for a caller (the web server), never drawn
        return _ReportedBar(sink, total, initial, desc, unit)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True,
                unit=unit, smoothing=0.05, leave=leave)


_progress_sinks = threading.local()


class _ReportedBar:
    """What :func:`progress` returns inside :func:`progress_to`: tqdm's few methods the pipelines use,
    each change passed to the sink as ``sink(desc, done, total, unit)``."""

    def __init__(self, sink, total: int, initial: int, desc: str, unit: str):
        self.sink, self.total, self.n, self.desc, self.unit = sink, total, initial, desc, unit
        self._report()

    def _report(self) -> None:
        self.sink(self.desc, self.n, self.total, self.unit)

    def update(self, n: int = 1) -> None:
        self.n += n
        self._report()

    def reset(self, total: int | None = None) -> None:
        self.n = 0
        if total is not None:
            self.total = total
        self._report()

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def set_description(self, desc: str, *args, **kwargs) -> None:
        self.desc = desc

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def progress_to(sink):
    """Within this block, bars that :func:`progress` makes *in this thread* report to
    ``sink(desc, done, total, unit)`` instead of drawing on stderr (``restore serve`` shows a job's
    steps and tiles on its page this way; a pipeline still opens a bar only when built with ``progress=True``).

    Example:
        >>> seen = []
        >>> with progress_to(lambda *a: seen.append(a)):
        ...     bar = progress(2, desc="tiles", unit="tile"); bar.update(); bar.update(); bar.close()
        >>> seen[-1]
        ('tiles', 2, 2, 'tile')
    """
    previous = getattr(_progress_sinks, "sink", None)
    _progress_sinks.sink = sink
    try:
        yield
    finally:
        _progress_sinks.sink = previous
