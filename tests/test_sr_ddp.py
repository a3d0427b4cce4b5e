"""The same `restore train srresnet|srgan` commands under torchrun: 2 CPU processes, gloo backend, a few steps."""

import json
import os
import subprocess
import sys

import pytest
import torch

from restore.registry import load_model

pytestmark = pytest.mark.slow  # two torchrun processes per case: ~10 s each on a 2-core CPU


@pytest.mark.parametrize("kind", ["srresnet", "srgan"])
def test_torchrun_two_processes_gloo(tmp_path, kind):
    from skimage import data

    from restore.io import write_image

    for name in ("astronaut", "coffee"):
        t = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1)[None].float() / 255
        write_image(tmp_path / "train" / f"{name}.png", torch.nn.functional.interpolate(t, size=(48, 48), mode="area"))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "restore.cli", "train", kind, "--data", str(tmp_path / "train"), "--out", str(out),
           "--steps", "3", "--batch-size", "4", "--patch-size", "16", "--num-blocks", "1", "--channels", "8",
           "--num-workers", "0", "--log-every", "1", "--ckpt-every", "2", "--device", "cpu", "--no-progress"]
    if kind == "srgan":  # D: two forwards and backwards per step, then G's backward through it
        cmd += ["--disc-channels", "8", "--content-layer", "relu2_2"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    start = records[0]
    assert start["event"] == "start" and start["world_size"] == 2
    assert [r["step"] for r in records if "patches_per_s" in r] == [1, 2, 3]  # only rank 0 logs
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 3
    model, info = load_model(out / f"{kind}_x4.safetensors")
    assert info["card"]["world_size"] == 2
    # DDP keeps replicas identical, so rank 0's export equals its checkpoint
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state["generator"][key])
