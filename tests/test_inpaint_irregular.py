"""benchmarks/inpaint_irregular.py: the irregular-mask protocol on stand-in masks and photos (the real ones
live in ../shared/data and are not needed here)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_script
from PIL import Image


@pytest.fixture()
def bench(tmp_path, monkeypatch):
    """The script pointed at 2 stand-in photos and masks whose hole is the bin's lower edge + 5%."""
    module = load_script("benchmarks/inpaint_irregular.py")
    masks, photos = tmp_path / "masks", tmp_path / "photos"
    masks.mkdir(), photos.mkdir()
    for b, (_, start) in enumerate(module.BINS):
        for i in range(2):
            hole = np.zeros((512, 512), np.uint8)
            hole[: round(512 * (0.1 * b + 0.05))] = 255
            hole = np.roll(hole, 100 + 37 * i, axis=0)  # a band of rows, away from the top edge
            Image.fromarray(hole).save(masks / f"{start + i:05d}.png")
    ramp = np.linspace(40, 200, 48)[None, :, None].repeat(40, 0).repeat(3, 2)
    for i in range(2):
        Image.fromarray((ramp + 10 * i).astype(np.uint8)).save(photos / f"p{i}.png")
    monkeypatch.setattr(module, "MASKS", masks)
    monkeypatch.setattr(module, "SCENES", (photos,))
    return module


def test_each_bin_gets_its_own_hole_ratio_and_every_method_the_same_holes(bench, tmp_path, capsys):
    out = tmp_path / "r.json"
    result = bench.main(["--data", "scenes", "--methods", "telea,fsr-fast", "--out", str(out),
                         "--figure", str(tmp_path / "f.png")])
    saved = json.loads(out.read_text())
    assert saved["scenes"]["telea"]["bins"] == result["scenes"]["telea"]["bins"]
    for b, (label, _) in enumerate(bench.BINS):
        telea, fsr = (saved["scenes"][m]["bins"][label] for m in ("telea", "fsr-fast"))
        assert telea["n"] == fsr["n"] == 2
        assert telea["hole"] == fsr["hole"] == pytest.approx(0.1 * b + 0.05, abs=0.03)
        assert telea["psnr"] > 25 and fsr["psnr"] > 25  # a ramp is easy to continue
    assert "| telea |" in capsys.readouterr().out and (tmp_path / "f.png").is_file()
    # --table prints what the JSON holds, the lowest LPIPS of each bin in bold
    bench.main(["--table", "--out", str(out)])
    assert capsys.readouterr().out.count("**") >= 2 * len(bench.BINS)


def test_missing_data_is_one_line(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "MASKS", tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="the irregular masks not found at .*nowhere"):
        bench.main(["--data", "scenes", "--methods", "telea", "--out", str(tmp_path / "r.json")])
