"""SRResNet/SRGAN training end to end through the CLI on a tiny CPU configuration."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from restore.cli.main import main
from restore.registry import load_model

TINY = ["--num-blocks", "2", "--channels", "8", "--batch-size", "4", "--patch-size", "32", "--num-workers", "0",
        "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny convolutions run far slower with 2 threads on a shared 2-core machine (oversubscription).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


ENV = dict(os.environ, OMP_NUM_THREADS="1", RESTORE_DEBUG="")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from skimage import data

    from restore.io import write_image

    root = tmp_path_factory.mktemp("sr_images")
    for name in ("astronaut", "coffee", "chelsea"):
        arr = getattr(data, name)()
        t = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
        t = torch.nn.functional.interpolate(t, size=(64, 64), mode="area")
        write_image(root / "train" / f"{name}.png", t)
        write_image(root / "val" / f"{name}.png", t[..., :50, :42])  # not a multiple of 4: mod-cropped
    return root


def _records(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def test_srresnet_loss_drops_and_export_loads(images, tmp_path):
    out = tmp_path / "run"
    rc = main(["train", "srresnet", "--data", str(images / "train"), "--val", str(images / "val"), "--out", str(out),
               "--steps", "40", "--lr", "2e-3", "--log-every", "1", "--val-every", "40", "--val-max-images", "2",
               *TINY])
    assert rc == 0
    losses = [r["mse"] for r in _records(out) if "mse" in r]
    assert len(losses) == 40
    assert sum(losses[-8:]) / 8 < 0.5 * sum(losses[:4]) / 4
    val = [r for r in _records(out) if r.get("event") == "val"]
    assert val and {"psnr_y", "ssim_y", "lpips", "bicubic_psnr_y"} <= set(val[-1])
    assert len(list((out / "val").glob("step_0000040_*.png"))) == 2
    model, info = load_model(out / "srresnet_x4.safetensors")
    assert info["config"] == {"scale": 4, "num_blocks": 2, "channels": 8, "in_channels": 3, "norm": "batch"}
    card = info["card"]
    assert card["steps"] == 40 and card["recipe"]["recipe"] == "srresnet_x4" and card["validation"]["psnr_y"] > 0
    assert "CPU" in card["device"] and len(card["sha256"]) == 64
    with torch.no_grad():
        assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


def test_resume_continues_the_same_schedule(images, tmp_path):
    recipe = tmp_path / "tiny.toml"
    shipped = (Path(__file__).resolve().parents[1] / "restore/training/recipes/srresnet_x4.toml").read_text()
    recipe.write_text(shipped.replace("lr_milestones = []", "lr_milestones = [3]"))  # lr drops mid-run
    common = ["--data", str(images / "train"), "--recipe", str(recipe), "--lr", "1e-3", *TINY]
    assert main(["train", "srresnet", *common, "--out", str(tmp_path / "whole"), "--steps", "6"]) == 0
    assert main(["train", "srresnet", *common, "--out", str(tmp_path / "split"), "--steps", "2"]) == 0
    assert main(["train", "srresnet", *common, "--out", str(tmp_path / "split"), "--steps", "6", "--resume"]) == 0
    whole, _ = load_model(tmp_path / "whole" / "srresnet_x4.safetensors")
    split, _ = load_model(tmp_path / "split" / "srresnet_x4.safetensors")
    for (name, a), b in zip(whole.state_dict().items(), split.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)
    lrs = [(r["step"], r["lr"]) for r in _records(tmp_path / "split") if "lr" in r]
    assert dict(lrs)[6] == pytest.approx(1e-4)
    card = json.loads((tmp_path / "split" / "srresnet_x4.json").read_text())  # the run's first command
    assert "--steps 2" in card["command"] and len(card["resumed_with"]) == 1 and "--resume" in card["resumed_with"][0]
    # resuming with other network settings is refused with the flags that would match
    tiny3 = [a if a != "2" else "3" for a in common]  # --num-blocks 3
    assert main(["train", "srresnet", *tiny3, "--out", str(tmp_path / "split"), "--steps", "8", "--resume"]) == 2
    # without --resume an existing run is never overwritten
    assert main(["train", "srresnet", *common, "--out", str(tmp_path / "split"), "--steps", "6"]) == 2


def test_sigint_saves_a_checkpoint_then_resume(images, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "restore.cli", "train", "srresnet", "--data", str(images / "train"),
           "--out", str(out), "--steps", "100000", "--log-every", "1", *TINY]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 60
    while time.time() < deadline and not any("mse" in r for r in (_records(out) if (out / "metrics.jsonl").exists() else [])):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped at step" in err and "Traceback" not in err
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert 1 <= state["step"] < 100000
    assert not (out / "srresnet_x4.safetensors").exists()
    rc = main(["train", "srresnet", "--data", str(images / "train"), "--out", str(out), "--resume",
               "--steps", str(state["step"] + 2), *TINY])
    card = load_model(out / "srresnet_x4.safetensors")[1]["card"]
    assert rc == 0 and card["steps"] == state["step"] + 2
    assert state["elapsed_s"] > 0 and card["wall_time_s"] >= round(state["elapsed_s"], 1)  # counted across resumes


def test_nan_guard_stops_with_one_line_and_saves_nothing(images, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "restore.cli", "train", "srresnet", "--data", str(images / "train"),
                           "--out", str(out), "--steps", "20", "--lr", "1e30", *TINY],
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("restore:")]
    assert len(lines) == 1 and "became" in lines[0] and "Traceback" not in proc.stderr
    assert not (out / "checkpoints" / "last.pt").exists() and not (out / "srresnet_x4.safetensors").exists()


def test_srgan_from_srresnet_init(images, tmp_path):
    base = tmp_path / "base"
    assert main(["train", "srresnet", "--data", str(images / "train"), "--out", str(base), "--steps", "2", *TINY]) == 0
    out = tmp_path / "gan"
    rc = main(["train", "srgan", "--init", str(base / "srresnet_x4.safetensors"), "--data", str(images / "train"),
               "--val", str(images / "val"), "--out", str(out), "--steps", "3", "--log-every", "1",
               "--disc-channels", "8", "--content-layer", "relu2_2", "--tv-weight", "1e-4",
               "--lr-consistency-weight", "1", *TINY])
    assert rc == 0
    recs = [r for r in _records(out) if "d_loss" in r]
    assert len(recs) == 3 and all(r["adv"] > 0 and r["content"] > 0 and r["lr_consistency"] > 0 for r in recs)
    model, info = load_model(out / "srgan_x4.safetensors")
    assert info["card"]["kind"] == "srgan" and info["card"]["content_loss"]["layer"] == "relu2_2"
    # a mismatched --init is refused with one line
    assert main(["train", "srgan", "--init", str(base / "srresnet_x4.safetensors"), "--data", str(images / "train"),
                 "--out", str(tmp_path / "bad"), "--steps", "1", *TINY[:-1], "--channels", "16"]) == 2


def test_discriminator_never_sees_real_and_fake_in_one_batch(images, tmp_path, monkeypatch):
    # Its BatchNorm normalises by batch statistics: a mixed real+fake batch in D's step let it separate
    # the halves perfectly while a fake-only batch in G's step scored ~0.9 "real" (a measured bug).
    from restore.archs.srresnet import SRGANDiscriminator

    batch_sizes, forward = [], SRGANDiscriminator.forward

    def recording_forward(self, x):
        batch_sizes.append(x.shape[0])
        return forward(self, x)

    monkeypatch.setattr(SRGANDiscriminator, "forward", recording_forward)
    assert main(["train", "srgan", "--data", str(images / "train"), "--out", str(tmp_path / "gan"),
                 "--steps", "2", "--disc-channels", "8", "--content-layer", "relu2_2", *TINY]) == 0
    assert batch_sizes == [4] * 6  # per step: real, fake (D's step), fake (G's step)


def test_bad_input_is_a_one_line_error(images, tmp_path, capsys):
    assert main(["train", "srresnet", "--data", str(images / "train"), "--out", str(tmp_path / "a"),
                 "--patch-size", "30", "--steps", "1"]) == 2
    assert "not a multiple of the scale" in capsys.readouterr().err
    assert main(["train", "srresnet", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "b"),
                 "--steps", "1"]) == 2
    assert main(["train", "srresnet", "--data", str(images / "train"), "--out", str(tmp_path / "c"),
                 "--patch-size", "512", "--steps", "1"]) == 2
    assert "at least 512x512" in capsys.readouterr().err


def test_loader_and_resident_feeds_give_identical_batches(images):
    from restore.data.sr import MemoryResidentImages, loader_batches

    loader = loader_batches([images / "train"], 32, 4, seed=3, start_step=2, num_workers=0)
    resident = MemoryResidentImages([images / "train"], 32, 4, torch.device("cpu"), seed=3)
    for step in (2, 3):
        batch = next(loader)
        assert batch.shape == (4, 3, 32, 32) and 0 <= batch.min() and batch.max() <= 1
        torch.testing.assert_close(batch, resident.batch(step), atol=0, rtol=0)
    other_rank = MemoryResidentImages([images / "train"], 32, 4, torch.device("cpu"), seed=3, rank=1)
    assert not torch.equal(other_rank.batch(2), resident.batch(2))


def test_cpu_recipe_options_no_bn_l1_cosine_memory_resident(images, tmp_path, monkeypatch):
    """The choices of recipe srresnet_x4_cpu: no BatchNorm, L1, one cosine cycle, data held in memory, bf16."""
    monkeypatch.setenv("RESTORE_CPU_BF16", "1")
    out = tmp_path / "run"
    rc = main(["train", "srresnet", "--recipe", "srresnet_x4_cpu", "--data", str(images / "train"), "--out", str(out),
               "--steps", "12", "--log-every", "1", "--memory-resident", *TINY])
    assert rc == 0
    records = [r for r in _records(out) if "l1" in r]
    assert len(records) == 12 and "mse" not in records[0]
    lrs = [r["lr"] for r in records]
    import math

    cosine = [1e-7 + (2e-4 - 1e-7) * (1 + math.cos(math.pi * k / 12)) / 2 for k in range(1, 13)]
    assert lrs == pytest.approx(cosine, rel=1e-6)  # logged after each step's scheduler update
    assert lrs[-1] == pytest.approx(1e-7)  # the cosine ends at lr_min
    start = next(r for r in _records(out) if r.get("event") == "start")
    assert start["precision"] == "bf16"
    model, info = load_model(out / "srresnet_x4.safetensors")
    assert info["config"]["norm"] == "none" and not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert info["card"]["precision"] == "bf16" and info["card"]["recipe"]["pixel_loss"] == "l1"


def test_bad_recipe_choices_are_one_line_errors(images, tmp_path, capsys):
    recipe = tmp_path / "bad.toml"
    text = (Path(__file__).resolve().parents[1] / "restore/training/recipes/srresnet_x4_cpu.toml").read_text()
    recipe.write_text(text.replace('pixel_loss = "l1"', 'pixel_loss = "huber"'))
    rc = main(["train", "srresnet", "--recipe", str(recipe), "--data", str(images / "train"),
               "--out", str(tmp_path / "run"), "--steps", "2", *TINY])
    assert rc == 2 and "pixel_loss must be mse or l1" in capsys.readouterr().err


def test_validation_and_checkpoints_also_by_wall_time(images, tmp_path):
    """val_minutes / ckpt_minutes: a slow machine is validated and checkpointed however few steps it makes."""
    out = tmp_path / "run"
    rc = main(["train", "srresnet", "--data", str(images / "train"), "--val", str(images / "val"), "--out", str(out),
               "--steps", "4", "--val-every", "1000", "--ckpt-every", "1000", "--val-minutes", "1e-9",
               "--ckpt-minutes", "1e-9", "--val-max-images", "1", *TINY])
    assert rc == 0
    assert [r["step"] for r in _records(out) if r.get("event") == "val"] == [1, 2, 3, 4]
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 4


def test_srresnet_warm_start_same_and_across_scales(images, tmp_path):
    base = tmp_path / "x4"
    assert main(["train", "srresnet", "--data", str(images / "train"), "--out", str(base), "--steps", "2", *TINY]) == 0
    x4, _ = load_model(base / "srresnet_x4.safetensors")
    for scale in ("4", "2"):
        out = tmp_path / f"warm_x{scale}"
        rc = main(["train", "srresnet", "--init", str(base / "srresnet_x4.safetensors"), "--scale", scale,
                   "--data", str(images / "train"), "--out", str(out), "--steps", "1", "--lr", "1e-12", *TINY])
        assert rc == 0
        start = next(r for r in _records(out) if r.get("event") == "start")
        assert ("x4 weights for x2" in start["init"]) == (scale == "2")
        model, info = load_model(out / f"srresnet_x{scale}.safetensors")
        assert info["card"]["init"] == str(base / "srresnet_x4.safetensors")
        ours, theirs = model.state_dict(), x4.state_dict()
        shared = [k for k in ours if k in theirs and ours[k].shape == theirs[k].shape]
        assert any(k.startswith("blocks.") for k in shared) and any(k.startswith("upsample.0.") for k in shared)
        params = dict(model.named_parameters())  # (BatchNorm's running statistics move in any step)
        for k in shared:  # one step at lr 1e-12: the warm start's parameters are the x4 model's
            if k in params:
                torch.testing.assert_close(ours[k], theirs[k], atol=1e-6, rtol=0)
        assert (scale == "2") == ("upsample.1.0.weight" in theirs and "upsample.1.0.weight" not in ours)
    # another trunk (channels) is refused with one line
    assert main(["train", "srresnet", "--init", str(base / "srresnet_x4.safetensors"), "--scale", "2",
                 "--data", str(images / "train"), "--out", str(tmp_path / "bad"), "--steps", "1",
                 *TINY[:-1], "--channels", "16"]) == 2


def test_lr_milestones_below_one_are_fractions_of_the_run():
    from restore.errors import RestoreError
    from restore.training.engine import load_recipe
    from restore.training.sr import _check_recipe, lr_milestones

    assert lr_milestones({"steps": 2400, "lr_milestones": [0.5]}) == [1200]
    assert lr_milestones({"steps": 8000, "lr_milestones": [0.5, 3000]}) == [4000, 3000]
    recipe = load_recipe("srgan_x4_cpu", {"steps": 10})
    assert lr_milestones(recipe) == [5]  # the CPU SRGAN's two phases follow --steps
    with pytest.raises(RestoreError, match="lr_milestones"):
        _check_recipe(dict(recipe, lr_milestones=[-1]), world_size=1)


def test_lr_consistency_is_zero_for_the_truth_and_sees_a_colour_shift():
    from restore.data.degradation import degrade
    from restore.losses import lr_consistency_loss

    hr = torch.rand(2, 3, 32, 32)
    lr = degrade(hr, 4, quantize=False)
    assert float(lr_consistency_loss(hr, lr, 4)) < 1e-6
    shifted = (hr + torch.tensor([0.05, -0.03, 0.0]).view(1, 3, 1, 1)).requires_grad_()  # a colour drift
    loss = lr_consistency_loss(shifted, lr, 4)
    assert float(loss) > 0.02
    loss.backward()
    assert shifted.grad is not None and shifted.grad.abs().sum() > 0
