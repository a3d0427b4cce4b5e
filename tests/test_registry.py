"""The model registry: one manifest, safetensors checked against sha256, `restore models`."""

from __future__ import annotations

import json

import pytest
import torch

import restore.registry as registry
from restore.archs.srresnet import SRResNet
from restore.cli.main import main
from restore.errors import RestoreError
from restore.registry import ModelEntry, get_entry, list_models, load_model, register
from restore.weight_files import export_model


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """An empty private weights/ folder standing in for the shipped one."""
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def _ship(weights_dir, name="tiny-x2", scale=2) -> tuple[SRResNet, ModelEntry]:
    torch.manual_seed(0)
    model = SRResNet(scale=scale, num_blocks=1, channels=8).eval()
    path = export_model(weights_dir, name, model.state_dict(),
                        card={"arch": "srresnet", "config": model.config, "scale": scale})
    card = json.loads(path.with_suffix(".json").read_text())
    entry = ModelEntry(name=name, task="sr", arch="srresnet", config=model.config, file=path.name,
                       sha256=card["sha256"], scale=scale, licence="MIT (test weights)",
                       metrics={"Set5": {"psnr": 12.5, "ssim": 0.25}}, card=path.with_suffix(".json").name,
                       description="random test weights")
    register(entry)
    return model, entry


def _tamper(path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip bits of the last weight byte: still a valid safetensors file
    path.write_bytes(bytes(data))


def test_registered_model_loads_by_name(weights_dir):
    model, entry = _ship(weights_dir)
    assert [e.name for e in list_models("sr")] == ["tiny-x2"] and list_models("gan") == []
    loaded, info = load_model("tiny-x2", task="sr")
    assert info["scale"] == 2 and info["config"] == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_tampered_shipped_file_is_refused(weights_dir):
    _, entry = _ship(weights_dir)
    _tamper(entry.path)
    with pytest.raises(RestoreError, match=r"sha256 mismatch .*refusing to load it") as info:
        load_model("tiny-x2")
    assert "\n" not in str(info.value)


def test_tampered_local_file_is_refused_by_its_card(tmp_path):
    model = SRResNet(scale=2, num_blocks=1, channels=8)
    path = export_model(tmp_path, "local", model.state_dict(),
                        card={"arch": "srresnet", "config": model.config, "scale": 2})
    load_model(path)  # intact: fine
    _tamper(path)
    with pytest.raises(RestoreError, match="sha256 mismatch"):
        load_model(path)


def test_tampered_file_is_refused_by_the_cli(weights_dir, tmp_path, capsys):
    from PIL import Image

    _, entry = _ship(weights_dir)
    _tamper(entry.path)
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    assert main(["sr", str(image), "--model", "tiny-x2", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sha256 mismatch" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "in_x2.png").exists()


def test_unknown_name_lists_what_exists(weights_dir):
    _ship(weights_dir)
    with pytest.raises(RestoreError, match=r"unknown sr model 'nope' \(available: tiny-x2\)"):
        get_entry("nope", task="sr")


def test_models_command_lists_entries_with_metrics(weights_dir, capsys):
    _ship(weights_dir)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "tiny-x2" in out and "x2" in out and "Set5/psnr 12.5" in out and "MIT (test weights)" in out
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "tiny-x2" and rows[0]["installed"] is True and rows[0]["metrics"]["Set5"]["psnr"] == 12.5


def test_models_command_with_nothing_shipped(weights_dir, capsys):
    assert main(["models"]) == 0
    assert "No models are shipped yet" in capsys.readouterr().err
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_shipped_model_needs_one_manifest_entry_for_the_sr_api(weights_dir):
    from restore.pipelines.super_resolution import SuperResolver

    model, _ = _ship(weights_dir)
    sr = SuperResolver.from_pretrained("tiny-x2", device="cpu", precision="fp32")
    default = SuperResolver.from_pretrained(device="cpu", precision="fp32", scale=2)  # picked from the registry by scale
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        expected = model(x).clamp(0, 1)
    assert (sr(x) - expected).abs().max() < 1e-4 and (default(x) - expected).abs().max() < 1e-4
    with pytest.raises(RestoreError, match="no shipped super-resolution model for x4"):
        SuperResolver.from_pretrained(device="cpu", scale=4)
