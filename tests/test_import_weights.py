"""`restore import-weights`: BasicSR MSRResNet and restore checkpoints become verified safetensors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from restore.registry import load_model


def _basicsr_state(blocks=2, feat=8, scale=4, seed=0) -> dict:
    """A state dict in BasicSR's MSRResNet key layout, written out by hand (not via restore's module)."""
    g = torch.Generator().manual_seed(seed)

    def conv(cin, cout):
        return torch.randn(cout, cin, 3, 3, generator=g) * 0.05, torch.randn(cout, generator=g) * 0.01

    state = {}
    for name, (cin, cout) in {"conv_first": (3, feat), "upconv1": (feat, 4 * feat), "upconv2": (feat, 4 * feat),
                              "conv_hr": (feat, feat), "conv_last": (feat, 3)}.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = conv(cin, cout)
    for i in range(blocks):
        for c in ("conv1", "conv2"):
            state[f"body.{i}.{c}.weight"], state[f"body.{i}.{c}.bias"] = conv(feat, feat)
    return state


def _basicsr_forward(s: dict, x: torch.Tensor, blocks: int) -> torch.Tensor:
    """BasicSR's MSRResNet.forward (x4), written with the raw tensors."""
    c = lambda t, n: F.conv2d(t, s[f"{n}.weight"], s[f"{n}.bias"], padding=1)  # noqa: E731
    feat = F.leaky_relu(c(x, "conv_first"), 0.1)
    out = feat
    for i in range(blocks):
        out = out + c(F.relu(c(out, f"body.{i}.conv1")), f"body.{i}.conv2")
    out = F.leaky_relu(F.pixel_shuffle(c(out, "upconv1"), 2), 0.1)
    out = F.leaky_relu(F.pixel_shuffle(c(out, "upconv2"), 2), 0.1)
    out = c(F.leaky_relu(c(out, "conv_hr"), 0.1), "conv_last")
    return out + F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)


def test_basicsr_checkpoint_imports_and_computes_basicsr_s_function(tmp_path, run_cli):
    state = _basicsr_state()
    ema = {k: v + 0.001 for k, v in state.items()}
    torch.save({"params": {f"module.{k}": v for k, v in state.items()}, "params_ema": ema}, tmp_path / "net.pth")
    code, out, err = run_cli("import-weights", tmp_path / "net.pth", "--arch", "msrresnet", "--scale", "4",
                             "-o", tmp_path / "msr.safetensors")
    assert code == 0, err
    model, info = load_model(tmp_path / "msr.safetensors")  # sha256 checked against the card
    assert info["config"] == {"scale": 4, "num_blocks": 2, "channels": 8, "in_channels": 3}
    x = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _basicsr_forward(ema, x, 2), atol=1e-5, rtol=0)  # EMA preferred
    card = json.loads((tmp_path / "msr.json").read_text())
    assert len(card["sha256"]) == 64 and card["imported_from"]["format"] == "BasicSR"
    code, _, err = run_cli("sr", _img(tmp_path), "--model", tmp_path / "msr.safetensors",
                           "--device", "cpu", "-o", tmp_path / "out")
    assert code == 0, err


def _img(tmp_path):
    from restore.io import write_image

    return write_image(tmp_path / "in.png", torch.rand(1, 3, 12, 12))


def test_restore_training_checkpoint_imports(tmp_path, run_cli):
    from restore.archs.srresnet import SRResNet

    model = SRResNet(scale=2, num_blocks=2, channels=8, norm="none")
    torch.save({"kind": "srresnet", "step": 5, "generator": model.state_dict()}, tmp_path / "last.pt")
    code, _, err = run_cli("import-weights", tmp_path / "last.pt", "--arch", "srresnet", "--scale", "2",
                           "-o", tmp_path / "mine.safetensors")
    assert code == 0, err
    loaded, info = load_model(tmp_path / "mine.safetensors")
    assert info["config"]["norm"] == "none" and info["config"]["num_blocks"] == 2
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x))


@pytest.mark.parametrize("content, message", [
    ({"params": {"conv_first.weight": torch.zeros(8, 3, 3, 3)}}, "do not fit"),
    ({"something": 1}, "no state dict of tensors"),
    ({"params": {"head.0.weight": torch.zeros(8, 3, 9, 9)}}, "not a msrresnet"),
])
def test_checkpoints_that_do_not_fit_are_one_line(tmp_path, run_cli, content, message):
    torch.save(content, tmp_path / "bad.pth")
    code, _, err = run_cli("import-weights", tmp_path / "bad.pth", "--arch", "msrresnet", "--scale", "4",
                           "-o", tmp_path / "x.safetensors")
    assert code == 2 and message in err and not (tmp_path / "x.safetensors").exists()


def test_pickled_code_is_refused(tmp_path, run_cli):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"params": Evil()}))
    code, out, err = run_cli("import-weights", tmp_path / "evil.pth", "--arch", "msrresnet", "--scale", "4",
                             "-o", tmp_path / "x.safetensors")
    assert code == 2 and "weights-only" in err and "pwned" not in out
