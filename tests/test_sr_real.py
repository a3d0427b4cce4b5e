"""benchmarks/sr_real.py --add-to: a new model's columns join an earlier result only when the inputs match."""

from __future__ import annotations

import copy

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def sr_real():
    return load_script("benchmarks/sr_real.py")


def _result(models, psnr_bicubic=26.0):
    row = {"bicubic": {"psnr_y": psnr_bicubic, "ssim_y": 0.6, "lpips": 0.6}}
    row.update({m: {"psnr_y": 27.0, "ssim_y": 0.7, "lpips": 0.5} for m in models})
    return {"images": 80, "max_side": 512, "val": "v", "models": list(models), "command": "run",
            "s_per_image": {m: 0.3 for m in models}, "summary": {"jpeg50": copy.deepcopy(row), "clean": copy.deepcopy(row)}}


def test_add_to_puts_new_columns_before_auto(sr_real):
    earlier = _result(["a"])
    for row in earlier["summary"].values():
        row["auto"] = {"psnr_y": 27.0, "ssim_y": 0.7, "lpips": 0.5, "picks": {"a": 80}}
    merged = sr_real.add_columns(earlier, _result(["b"]))
    assert list(merged["summary"]["jpeg50"]) == ["bicubic", "a", "b", "auto"]
    assert merged["models"] == ["a", "b"] and merged["commands_added"] == ["run"]
    assert "| jpeg50 | 26.00 / 0.600 | 27.00 / 0.500 | 27.00 / 0.500 | 27.00 / 0.500 |" in sr_real.markdown(merged)


def test_add_to_refuses_other_inputs(sr_real):
    with pytest.raises(SystemExit, match="bicubic differs on jpeg50"):
        sr_real.add_columns(_result(["a"]), _result(["b"], psnr_bicubic=25.0))
    other = _result(["b"])
    other["images"] = 20
    with pytest.raises(SystemExit, match="other images"):
        sr_real.add_columns(_result(["a"]), other)
