"""tools/interpolate_weights.py: network interpolation between two SR models of one architecture."""

from __future__ import annotations

import pytest
import torch
from conftest import load_script

from restore.archs.srresnet import SRResNet
from restore.registry import load_model
from restore.weight_files import export_model


@pytest.fixture(scope="module")
def tool():
    return load_script("tools/interpolate_weights.py")


def _export(tmp_path, name, seed, channels=8, norm="none"):
    torch.manual_seed(seed)
    net = SRResNet(scale=4, num_blocks=1, channels=channels, norm=norm)
    return export_model(tmp_path, name, net.state_dict(),
                        card={"arch": "srresnet", "config": net.config, "task": "sr", "scale": 4, "kind": name})


def test_interpolation_is_the_weighted_mean_and_the_card_records_it(tool, tmp_path):
    a, b = _export(tmp_path, "srresnet", 0), _export(tmp_path, "srgan", 1)
    out = tmp_path / "mix" / "mix.safetensors"
    assert tool.main([str(a), str(b), "--alpha", "0.25", "-o", str(out)]) == 0
    (net_a, _), (net_b, _), (mixed, info) = load_model(a), load_model(b), load_model(out)
    for key, value in mixed.state_dict().items():
        torch.testing.assert_close(value, 0.75 * net_a.state_dict()[key] + 0.25 * net_b.state_dict()[key])
    card = info["card"]
    assert card["kind"] == "srgan" and card["interpolation"]["alpha"] == 0.25
    assert card["interpolation"]["a"]["sha256"] == load_model(a)[1]["card"]["sha256"]
    # the ends are the models themselves
    assert tool.main([str(a), str(b), "--alpha", "1", "-o", str(tmp_path / "one.safetensors")]) == 0
    for key, value in load_model(tmp_path / "one.safetensors")[0].state_dict().items():
        torch.testing.assert_close(value, net_b.state_dict()[key])


def test_bad_alpha_and_other_architectures_are_refused(tool, tmp_path):
    a, b = _export(tmp_path, "srresnet", 0), _export(tmp_path, "wide", 1, channels=16)
    with pytest.raises(SystemExit) as exc:
        tool.main([str(a), str(a), "--alpha", "1.5", "-o", str(tmp_path / "x.safetensors")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        tool.main([str(a), str(b), "--alpha", "0.5", "-o", str(tmp_path / "x.safetensors")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:  # a missing file: argparse's one-line error
        tool.main([str(a), str(tmp_path / "nope.safetensors"), "--alpha", "0.5", "-o", str(tmp_path / "x.safetensors")])
    assert exc.value.code == 2
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(ValueError, match="differ"):
        tool.interpolate({"w": torch.zeros(2)}, {"v": torch.zeros(2)}, 0.5)
