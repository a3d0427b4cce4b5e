"""Bad input and faults end in one clear line and the documented exit status, and lose nothing.

The contract (README, "Errors"): a mistake in what the user gave -> one ``restore: error:`` line on
stderr, exit 2; a batch where some items fail -> a line per failure, the rest done, exit 1. No traceback,
inputs unchanged, no stray files.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restore.errors import ImageReadError, OutputExistsError
from restore.io import atomic_write_bytes, probe_image, read_image


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _png(path: Path, size=16) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _corrupt_idat(path: Path) -> Path:
    """Flip one byte inside the IDAT payload, keeping the chunk's CRC valid (so only zlib notices)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT")
    length = int.from_bytes(data[at - 4:at], "big")
    data[at + 4 + length // 2] ^= 0xFF
    crc = zlib.crc32(bytes(data[at:at + 4 + length])) & 0xFFFFFFFF
    data[at + 4 + length:at + 8 + length] = crc.to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


# ----------------------------------------------------------------------------- corrupt and odd files
def test_corrupt_8bit_png_is_refused_not_half_decoded(tmp_path):
    bad = _corrupt_idat(_png(tmp_path / "bad.png"))
    with pytest.raises(ImageReadError, match="bad.png: cannot decode"):
        read_image(bad)
    with pytest.raises(ImageReadError):
        probe_image(bad)


@pytest.mark.parametrize("command", ["info", "metrics"])
def test_corrupt_png_through_the_cli_is_one_line_and_exit_2(tmp_path, run_cli, command):
    bad = _corrupt_idat(_png(tmp_path / "bad.png"))
    before = _digest(bad)
    args = ("info", bad) if command == "info" else ("metrics", _png(tmp_path / "ok.png"), bad)
    code, out, err = run_cli(*args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("restore: error:") and "bad.png" in lines[0]
    assert out == "" and _digest(bad) == before


def test_info_batch_with_one_bad_file_reports_it_and_exits_1(tmp_path, run_cli):
    good, bad = _png(tmp_path / "a.png"), _corrupt_idat(_png(tmp_path / "b.png"))
    code, out, err = run_cli("info", good, bad)
    assert code == 1 and "a.png: PNG 16x16" in out and err.count("restore: error:") == 1 and "b.png" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_named_like_an_image_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "restore.cli", "info", str(fifo)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr and "Traceback" not in proc.stderr


def test_device_file_is_refused(tmp_path):
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(link)


def test_symlink_loop_is_a_clear_error(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(ImageReadError, match="loop.png: cannot read"):
        read_image(loop)


@pytest.mark.parametrize("command", [("sr", "{loop}", "--model", "bicubic"),
                                     ("inpaint", "{loop}", "--mask", "{good}", "--method", "telea"),
                                     ("info", "{loop}"), ("project", "{loop}", "-o", "{out}"),
                                     ("sr", "{good}", "--model", "bicubic", "-o", "{loop}"),
                                     ("project", "{good}", "-o", "{loop}")],
                         ids=["sr", "inpaint", "info", "project", "sr-output", "project-output"])
def test_symlink_loop_as_a_path_is_one_line_and_exit_2(tmp_path, run_cli, command):
    """A link that leads back to itself, named as the input or the output: a user error, not an internal one."""
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    paths = {"loop": loop, "good": _png(tmp_path / "good.png"), "out": tmp_path / "out.png"}
    code, out, err = run_cli(*(arg.format(**paths) for arg in command))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and err.count("restore: error:") == 1 and "internal error" not in err
    assert lines[-1] == f"restore: error: {loop}: symbolic link loop (the link leads back to itself)"
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "good_x4.png").exists()


# ----------------------------------------------------------------------------- writing outputs
def test_long_output_names_do_not_break_the_temp_file(tmp_path):
    name = "x" * 247 + ".png"  # 251 bytes: the old ".NAME.random.tmp" temp name would exceed 255
    atomic_write_bytes(tmp_path / name, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def _race(args):
    path, payload = args
    try:
        atomic_write_bytes(path, payload)
        return payload
    except OutputExistsError:
        return None


def test_concurrent_writers_of_one_new_output_never_both_succeed(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        for trial in range(12):
            path = tmp_path / f"out{trial}.png"
            results = pool.map(_race, [(path, bytes([k]) * 1000) for k in range(4)])
            winners = [r for r in results if r is not None]
            assert len(winners) == 1 and path.read_bytes() == winners[0]
    assert not list(tmp_path.glob(".*.tmp"))


def test_overwrite_replaces_and_no_clobber_refuses(tmp_path):
    path = atomic_write_bytes(tmp_path / "a.bin", b"one")
    with pytest.raises(OutputExistsError, match="already exists"):
        atomic_write_bytes(path, b"two")
    atomic_write_bytes(path, b"three", overwrite=True)
    assert path.read_bytes() == b"three" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]


# ----------------------------------------------------------------------------- training files
def test_checkpoint_save_failure_leaves_no_temp_file(tmp_path):
    from restore.training.engine import Checkpointer

    ckpt = Checkpointer(tmp_path)
    with pytest.raises(Exception):
        ckpt.save({"bad": lambda: None})  # torch.save cannot pickle a lambda: fails mid-save
    assert not ckpt.last.exists() and not list(ckpt.dir.iterdir())


def test_stale_temp_from_a_killed_save_is_removed_by_the_next_run(tmp_path):
    from restore.training.engine import Checkpointer

    ckpt = Checkpointer(tmp_path)
    ckpt.save({"step": 1})
    (ckpt.dir / ".last.pt.abc123.tmp").write_bytes(b"half")
    (ckpt.dir / "last.pt.tmp").write_bytes(b"half, old name")
    assert ckpt.remove_stale_temporaries() == 2
    assert sorted(p.name for p in ckpt.dir.iterdir()) == ["last.pt"]
    assert torch.load(ckpt.last, weights_only=True)["step"] == 1


def test_a_second_training_on_the_same_out_is_refused_naming_the_first(tmp_path):
    from restore.errors import RestoreError
    from restore.training.engine import RunLock

    with RunLock(tmp_path / "run"):
        proc = subprocess.run([sys.executable, "-c", (
            "import sys; from restore.training.engine import RunLock\n"
            "from restore.errors import RestoreError\n"
            f"try:\n    RunLock({str(tmp_path / 'run')!r}).__enter__()\nexcept RestoreError as e:\n"
            "    print(e); sys.exit(2)")], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and f"PID {os.getpid()}" in proc.stdout
    with RunLock(tmp_path / "run"):  # released: the next run may take it
        pass
    with pytest.raises(RestoreError):
        with RunLock(tmp_path / "run"):
            RunLock(tmp_path / "run").__enter__()


# ----------------------------------------------------------------------------- weights and model cards
@pytest.fixture
def tiny_weights(tmp_path):
    from restore.archs.srresnet import SRResNet
    from restore.weight_files import export_model

    model = SRResNet(scale=2, num_blocks=1, channels=4)
    return export_model(tmp_path, "tiny", model.state_dict(), {"arch": "srresnet", "config": model.config, "scale": 2})


def _edit_card(weights: Path, **changes) -> None:
    import json

    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    for key, value in changes.items():
        if value is None:
            card.pop(key, None)
        else:
            card[key] = value
    card_path.write_text(json.dumps(card))


def test_local_card_without_sha256_is_refused_unless_trusted(tiny_weights, run_cli, tmp_path):
    from restore.errors import RestoreError
    from restore.registry import load_model

    _edit_card(tiny_weights, sha256=None)
    with pytest.raises(RestoreError, match="records no sha256"):
        load_model(tiny_weights, trust_unverified=False)
    assert load_model(tiny_weights, trust_unverified=True)[1]["arch"] == "srresnet"
    img = _png(tmp_path / "in.png")
    code, _, err = run_cli("sr", img, "--model", tiny_weights, "--device", "cpu", "-o", tmp_path / "out")
    assert code == 2 and "--trust-unverified" in err and not (tmp_path / "out").exists()
    code, _, err = run_cli("sr", img, "--model", tiny_weights, "--device", "cpu", "-o", tmp_path / "out",
                           "--trust-unverified")
    assert code == 0, err
    os.environ.pop("RESTORE_TRUST_UNVERIFIED", None)  # the flag sets it for the process


@pytest.mark.parametrize("changes, message", [
    ({"arch": None}, "needs 'arch'"),
    ({"config": [1, 2]}, "needs 'arch'"),
    ({"arch": "transformer"}, "unknown architecture"),
    ({"config": {"scale": 2, "num_blocks": 1, "channels": 4, "in_channels": 3, "depth": 9}}, "does not fit"),
    ({"config": {"scale": 2, "num_blocks": 1, "channels": 30000, "in_channels": 3}}, "channels=30000 does not fit"),
    ({"config": {"scale": 3, "num_blocks": 1, "channels": 4, "in_channels": 3}}, "does not fit"),
])
def test_bad_model_cards_are_one_clear_error(tiny_weights, changes, message):
    from restore.errors import RestoreError
    from restore.registry import load_model

    _edit_card(tiny_weights, **changes)
    with pytest.raises(RestoreError, match=message):
        load_model(tiny_weights)


def test_card_that_is_not_json_is_a_clear_error(tiny_weights):
    from restore.errors import RestoreError
    from restore.registry import load_model

    tiny_weights.with_suffix(".json").write_text("{not json")
    with pytest.raises(RestoreError, match="not valid JSON"):
        load_model(tiny_weights)


@pytest.mark.parametrize("entry", [{"name": "x"}, "just a string"])
def test_malformed_manifest_entries_are_clear_errors(tmp_path, entry):
    import json

    from restore.errors import RestoreError
    from restore.registry import list_models

    (tmp_path / "models.json").write_text(json.dumps({"models": [entry]}))
    with pytest.raises(RestoreError, match="model entry 1 is malformed"):
        list_models(weights_dir=tmp_path)


# ----------------------------------------------------------------------------- output streams and signals
def test_metrics_json_is_valid_json_for_identical_images(tmp_path, run_cli):
    import json

    img = _png(tmp_path / "a.png")
    code, out, _ = run_cli("metrics", img, img, "--json")
    record = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert code == 0 and record["images"][0]["psnr"] is None and record["images"][0]["identical"] is True


def test_models_json_into_a_closed_pipe_is_quiet():
    proc = subprocess.run(f"{sys.executable} -m restore.cli models --json | head -c 10", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr


def test_sigterm_ends_a_command_with_one_line_and_exit_143(tmp_path, tiny_weights):
    import signal
    import time

    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((1024, 1024, 3), np.uint8)).save(big)
    proc = subprocess.Popen([sys.executable, "-m", "restore.cli", "sr", str(big), "--model", str(tiny_weights),
                             "--tile", "16", "--device", "cpu", "-o", str(tmp_path / "out")],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    line = proc.stderr.readline()  # "restore sr: tiny x2 on cpu in ...": the work has begun
    assert line.startswith("restore sr:"), line
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "restore: terminated" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ----------------------------------------------------------------------------- sizes LPIPS cannot take
def test_lpips_on_a_too_small_pair_is_one_line(tmp_path, run_cli):
    a, b = _png(tmp_path / "a.png", size=24), _png(tmp_path / "b.png", size=24)
    code, _, err = run_cli("metrics", a, b, "--lpips")
    assert code == 2 and err.count("restore: error:") == 1 and "at least 31x31" in err


def test_training_refuses_small_validation_images_before_it_starts(tmp_path, run_cli):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    _png(tmp_path / "train" / "t.png", size=48)
    _png(tmp_path / "val" / "v.png", size=36)  # 36 - 2*4 = 28 < 31
    code, _, err = run_cli("train", "srresnet", "--data", tmp_path / "train", "--val", tmp_path / "val",
                           "--out", tmp_path / "run", "--steps", "2", "--num-blocks", "1", "--channels", "4",
                           "--batch-size", "2", "--patch-size", "32", "--no-progress")
    assert code == 2 and "validation image v is smaller" in err
    assert not (tmp_path / "run" / "checkpoints").exists()


# ----------------------------------------------------------------------------- out-of-domain values
FLAG_CASES = [
    ("inpaint x.png --mask m.png --lambda nan", "--lambda: must be a finite number"),
    ("inpaint x.png --mask m.png --lr nan", "--lr: must be a finite number"),
    ("inpaint x.png --mask m.png --lr -1", "--lr: must be > 0"),
    ("inpaint x.png --mask m.png --margin inf", "--margin: must be a finite number"),
    ("inpaint x.png --mask m.png --margin nan", "--margin: must be a finite number"),
    ("inpaint x.png --mask m.png --seed 1180591620717411303424", "--seed: must be <="),
    ("inpaint x.png --mask m.png --steps -5", "--steps: must be >= 0"),
    ("inpaint x.png --mask m.png --restarts 0", "--restarts: must be >= 1"),
    ("sample fashion-dcgan -o g.png --nrow -3", "--nrow: must be >= 1"),
    ("sample fashion-dcgan -o g.png -n 0", "--num: must be >= 1"),
    ("interpolate fashion-dcgan -o s.png --steps 1", "--steps: must be >= 2"),
    ("train srresnet --data d --ema 2", "--ema: must be <="),
    ("train srresnet --data d --num-workers -1", "--num-workers: must be >= 0"),
    ("train srresnet --data d --batch-size 0", "--batch-size: must be >= 1"),
    ("train srresnet --data d --lr nan", "--lr: must be a finite number"),
    ("train srresnet --data d --threads -1", "--num-threads: must be >= 1"),
    ("train dcgan --out o --holdout 0", "--holdout: must be >= 1"),
    ("train dcgan --out o --holdout -4", "--holdout: must be >= 1"),
    ("train dcgan --out o --epochs 0", "--epochs: must be >= 1"),
    ("train dcgan --out o --threads -1", "--num-threads: must be >= 1"),
    ("train vae --out o --beta nan", "--beta: must be a finite number"),
    ("sr x.png --outscale inf", "--outscale: must be a finite number"),
    ("sr x.png --outscale 1e9", "--outscale: must be <= 64"),
    ("sr x.png --outscale 0", "--outscale: must be > 0"),
    ("sr x.png --tile 16.5", "--tile: expected an integer"),
    ("metrics a.png b.png --crop-border -2", "--crop-border: must be >= 0"),
    ("sr x.png --no-such-flag", "unrecognized arguments"),
    ("no-such-command", "invalid choice"),
]


@pytest.mark.parametrize("args, message", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_out_of_domain_flags_are_refused_up_front(run_cli, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(*args.split())
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("restore: error:") and message in lines[0], err
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["inf", "-1", "0", "nan", "lots"])
def test_bad_pixel_limit_variable_is_a_clear_error(tmp_path, run_cli, monkeypatch, value):
    monkeypatch.setenv("RESTORE_MAX_PIXELS", value)
    code, _, err = run_cli("info", _png(tmp_path / "a.png"))
    assert code == 2 and "RESTORE_MAX_PIXELS must be a positive number" in err


def test_output_above_the_pixel_limit_is_refused_before_upscaling(tmp_path, monkeypatch, tiny_weights):
    from restore.errors import RestoreError
    from restore.pipelines import SuperResolver

    monkeypatch.setenv("RESTORE_MAX_PIXELS", "10000")
    sr = SuperResolver.from_pretrained(tiny_weights, device="cpu")
    with pytest.raises(RestoreError, match="above the pixel limit"):
        sr.upscale(torch.rand(1, 3, 40, 40), outscale=8)


API_CASES = {
    "nan tensor": lambda: torch.full((1, 3, 8, 8), float("nan")),
    "int64 tensor": lambda: torch.ones(1, 3, 8, 8, dtype=torch.int64),
    "empty tensor": lambda: torch.rand(1, 3, 0, 0),
    "PIL mode F": lambda: Image.fromarray(np.ones((8, 8), np.float32) * 200.0, mode="F"),
    "PIL mode I": lambda: Image.fromarray(np.full((8, 8), 70000, np.int32), mode="I"),
    "PIL mode HSV": lambda: Image.new("HSV", (8, 8)),
    "PIL mode LAB": lambda: Image.new("LAB", (8, 8)),
}


@pytest.mark.parametrize("case", API_CASES)
def test_bad_images_into_the_pipelines_are_refused(case, tiny_weights):
    from restore.errors import RestoreError
    from restore.pipelines import Inpainter, SuperResolver

    image = API_CASES[case]()
    with pytest.raises(RestoreError):
        SuperResolver.from_pretrained(tiny_weights, device="cpu")(image)
    with pytest.raises(RestoreError):
        Inpainter("telea")(image, np.ones((8, 8), np.uint8) * 255)


@pytest.mark.parametrize("image, kwargs, message", [
    (np.zeros((8, 8, 3), np.uint8), {}, "takes a \\(1, C, H, W\\) float tensor"),
    (torch.ones(1, 3, 8, 8, dtype=torch.int64), {}, "float pixels"),
    (torch.full((1, 3, 8, 8), float("nan")), {}, "NaN"),
    (torch.rand(1, 3, 0, 0), {}, "H, W >= 1"),
    (torch.rand(2, 3, 8, 8), {}, "one image"),
    (torch.rand(1, 3, 8, 8), {"bit_depth": 12}, "bit depth must be 8 or 16"),
])
def test_write_image_refuses_what_it_cannot_write_faithfully(tmp_path, image, kwargs, message):
    from restore.errors import RestoreError
    from restore.io import write_image

    with pytest.raises(RestoreError, match=message):
        write_image(tmp_path / "o.png", image, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_fractional_tile_is_refused(tiny_weights):
    from restore.errors import RestoreError
    from restore.pipelines import SuperResolver

    with pytest.raises(RestoreError, match="whole number"):
        SuperResolver.from_pretrained(tiny_weights, device="cpu", tile=16.5)


# ----------------------------------------------------------------------------- paths, disks, odd files
def test_suffix_with_path_separators_is_refused(tmp_path, run_cli, tiny_weights):
    img = _png(tmp_path / "a.png")
    code, _, err = run_cli("sr", img, "--model", tiny_weights, "-o", tmp_path / "out", "--suffix", "/../../x",
                           "--device", "cpu")
    assert code == 2 and "must not contain path separators" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "tiny.json", "tiny.safetensors"]


def test_output_folder_that_is_a_file_is_refused(tmp_path, run_cli, tiny_weights):
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    (tmp_path / "out").write_text("not a folder")
    code, _, err = run_cli("sr", a, b, "--model", tiny_weights, "-o", tmp_path / "out", "--device", "cpu")
    assert code == 2 and "is an existing file, not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_one_line(tmp_path, run_cli):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run_cli("sample", "fashion-dcgan", "-n", "4", "-o", ro / "g.png", "--device", "cpu")
    finally:
        ro.chmod(0o700)
    assert code == 2 and "cannot write" in err


def test_full_disk_is_one_line_and_leaves_no_temp(tmp_path, monkeypatch):
    import errno

    from restore.errors import RestoreError
    from restore.io import write_image

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(RestoreError, match="No space left on device"):
        write_image(tmp_path / "o.png", torch.rand(1, 3, 8, 8))
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_on_a_full_disk_is_a_restore_error(tmp_path, monkeypatch):
    import errno

    from restore.errors import RestoreError
    from restore.training import engine

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(engine.torch, "save", full)
    with pytest.raises(RestoreError, match="cannot save the checkpoint"):
        engine.Checkpointer(tmp_path).save({"step": 1})
    assert list((tmp_path / "checkpoints").iterdir()) == []


@pytest.mark.parametrize("kind", ["gif", "tiff"])
def test_animations_and_multipage_files_are_refused(tmp_path, kind):
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    path = tmp_path / f"anim.{kind}"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match="holds 2 frames"):
        read_image(path)


def test_a_model_of_another_task_is_named_as_such(run_cli, tmp_path):
    code, _, err = run_cli("sr", _png(tmp_path / "a.png"), "--model", "fashion-dcgan", "--device", "cpu")
    assert code == 2 and "fashion-dcgan is a gan model, not a sr model" in err


def test_inpaint_says_nothing_but_the_error_when_the_mask_is_missing(tmp_path, run_cli):
    code, _, err = run_cli("inpaint", _png(tmp_path / "a.png"), "--mask", tmp_path / "none.png", "--method", "telea")
    assert code == 2 and [ln for ln in err.splitlines() if ln.strip()] == [err.strip()]
    assert "Inpainter(" not in err


def test_existing_trace_is_refused_before_the_image_is_written(tmp_path, run_cli):
    img = _png(tmp_path / "a.png", size=32)
    mask = tmp_path / "m.png"
    Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 12)).save(mask)
    (tmp_path / "a_inpainted.trace.json").write_text("{}")
    code, _, err = run_cli("inpaint", img, "--mask", mask, "--method", "telea", "--save-trace")
    assert code == 2 and "a_inpainted.trace.json: already exists" in err
    assert not (tmp_path / "a_inpainted.png").exists()



def test_metrics_folder_with_one_bad_pair_scores_the_rest_and_exits_1(tmp_path, run_cli):
    for folder in ("ref", "test"):
        (tmp_path / folder).mkdir()
        _png(tmp_path / folder / "a.png")
    _png(tmp_path / "ref" / "b.png")
    _png(tmp_path / "test" / "b.png", size=20)  # another size: cannot be compared
    code, out, err = run_cli("metrics", tmp_path / "ref", tmp_path / "test")
    assert code == 1 and "a.png" in out and err.count("restore: error:") == 1 and "differs from" in err


# ----------------------------------------------------------------------------- checked before torch loads
_NO_TORCH = ("import sys; from restore.cli.main import main; code = main(sys.argv[1:]); "
             "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded'); sys.exit(code)")


@pytest.mark.parametrize("args, needle", [
    (("sr", "{tmp}/missing.png"), "{tmp}/missing.png: no such file"),
    (("sr", "{tmp}/a.png", "{tmp}/missing.png", "--model", "srresnet-x4"), "{tmp}/missing.png: no such file"),
    (("sr", "{tmp}/a.png", "--model", "{tmp}/none.safetensors"), "{tmp}/none.safetensors: weights file not found"),
    (("inpaint", "{tmp}/missing.png", "--mask", "{tmp}/a.png"), "{tmp}/missing.png: no such file"),
    (("inpaint", "{tmp}/a.png", "--mask", "{tmp}/none.png"), "{tmp}/none.png: mask file or folder not found"),
    (("inpaint", "{tmp}/a.png", "--mask", "{tmp}/a.png", "--model", "{tmp}/none.safetensors"),
     "{tmp}/none.safetensors: weights file not found"),
    (("project", "{tmp}/missing.png", "-o", "{tmp}/r.png"), "{tmp}/missing.png: no such file"),
    (("project", "{tmp}/a.png", "-o", "{tmp}/r.png", "--model", "{tmp}/none.safetensors"),
     "{tmp}/none.safetensors: weights file not found"),
    (("sample", "{tmp}/none.safetensors", "-o", "{tmp}/g.png"), "{tmp}/none.safetensors: weights file not found"),
])
def test_missing_inputs_and_weights_are_one_line_before_torch_loads(tmp_path, args, needle):
    _png(tmp_path / "a.png")
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, *(a.format(tmp=tmp_path) for a in args)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"restore: error: {needle.format(tmp=tmp_path)}"]
    assert proc.stdout.strip() == "torch not loaded"


def test_a_weights_file_beside_no_card_is_still_named_as_such(tmp_path, run_cli):
    (tmp_path / "w.safetensors").write_bytes(b"x")
    code, _, err = run_cli("sample", tmp_path / "w.safetensors", "-o", tmp_path / "g.png")
    assert code == 2 and "no model card (w.json) beside the weights" in err


def test_load_model_names_a_missing_weights_file(tmp_path):
    from restore.errors import RestoreError
    from restore.registry import load_model

    with pytest.raises(RestoreError, match="x.safetensors: weights file not found"):
        load_model(tmp_path / "x.safetensors")


def test_a_missing_input_among_several_stops_sr_before_the_model_loads(tmp_path, run_cli, monkeypatch):
    from restore.pipelines import sr_auto, super_resolution

    def never(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(super_resolution.SuperResolver, "from_pretrained", never)
    monkeypatch.setattr(sr_auto.AutoSuperResolver, "__init__", never)
    code, _, err = run_cli("sr", _png(tmp_path / "a.png"), tmp_path / "b.png", "--device", "cpu")
    assert code == 2 and err.strip() == f"restore: error: {tmp_path / 'b.png'}: no such file"
    assert not (tmp_path / "a_x4.png").exists()
