"""The precision policy (restore.device) and what it promises: bf16 close to fp32, fp32 weights kept."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from restore import device as dev
from restore.archs.srresnet import SRResNet
from restore.errors import RestoreError

CPU = torch.device("cpu")


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Pretend the CPU detection answered yes / no without touching the override variable."""
    monkeypatch.delenv("RESTORE_CPU_BF16", raising=False)

    def _set(answer: bool):
        monkeypatch.setattr(dev, "_detect_cpu_bf16", lambda: answer)

    return _set


def test_auto_is_bf16_on_a_cpu_with_bf16_units(bf16_cpu):
    bf16_cpu(True)
    assert dev.resolve_precision("auto", CPU) == torch.bfloat16


def test_auto_is_fp32_on_a_cpu_without_bf16_units(bf16_cpu):
    bf16_cpu(False)
    assert dev.resolve_precision("auto", CPU) == torch.float32


@pytest.mark.parametrize("detected", [True, False])
def test_environment_override_wins_over_detection(bf16_cpu, monkeypatch, detected):
    bf16_cpu(detected)
    monkeypatch.setenv("RESTORE_CPU_BF16", "0")
    assert dev.resolve_precision("auto", CPU) == torch.float32
    monkeypatch.setenv("RESTORE_CPU_BF16", "1")
    assert dev.resolve_precision("auto", CPU) == torch.bfloat16


def test_bad_override_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("RESTORE_CPU_BF16", "yes")
    with pytest.raises(RestoreError, match="RESTORE_CPU_BF16 must be 0 or 1"):
        dev.resolve_precision("auto", CPU)


def test_explicit_precisions_and_the_fp16_on_cpu_refusal(bf16_cpu):
    bf16_cpu(False)
    assert dev.resolve_precision("bf16", CPU) == torch.bfloat16  # asked for: honoured even without units
    assert dev.resolve_precision("FP32", CPU) == torch.float32
    with pytest.raises(RestoreError, match="fp16 is not supported on the CPU"):
        dev.resolve_precision("fp16", CPU)
    with pytest.raises(RestoreError, match="unknown precision"):
        dev.resolve_precision("int8", CPU)


def test_precision_names_round_trip():
    for name in ("fp32", "bf16", "fp16"):
        assert dev.precision_name(dev._PRECISIONS[name]) == name


def test_autocast_fp32_is_a_no_op_and_bf16_casts_convolutions():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.rand(1, 3, 8, 8)
    with dev.autocast(CPU, torch.float32):
        assert conv(x).dtype == torch.float32
    with dev.autocast(CPU, torch.bfloat16):
        assert conv(x).dtype == torch.bfloat16
    assert conv.weight.dtype == torch.float32  # master weights stay fp32


@pytest.mark.parametrize("norm", ["batch", "none"])
def test_bf16_forward_of_a_small_srresnet_matches_fp32(norm):
    """bf16 keeps 8 bits of mantissa: a 4-block SRResNet's output stays within 2 grey levels (8-bit) of fp32
    everywhere, and within half a grey level on average."""
    torch.manual_seed(0)
    model = SRResNet(scale=2, num_blocks=4, channels=16, norm=norm).eval()
    x = torch.rand(2, 3, 24, 24)
    with torch.no_grad():
        ref = model(x).clamp(0, 1)
        with dev.autocast(CPU, torch.bfloat16):
            low = model(x.contiguous(memory_format=torch.channels_last))
    low = low.float().clamp(0, 1)
    diff = (low - ref).abs() * 255
    assert diff.max() < 2.0 and diff.mean() < 0.5
    assert diff.max() > 0  # it really ran in bf16


def test_inference_code_never_imports_training_code():
    """restore/pipelines and restore/inpainting must work without restore.training (and its heavy imports)."""
    root = Path(__file__).resolve().parents[1] / "restore"
    offenders = []
    for folder in ("pipelines", "inpainting"):
        for path in (root / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    module = "." * node.level + (node.module or "")
                    if "training" in module.split("."):
                        offenders.append(f"{path.name}: from {module}")
                elif isinstance(node, ast.Import):
                    offenders += [f"{path.name}: import {a.name}" for a in node.names if "training" in a.name]
    assert not offenders, offenders


def test_release_host_memory_trims_the_glibc_heap_where_there_is_one():
    import platform

    from restore.device import release_host_memory

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert release_host_memory() is glibc
