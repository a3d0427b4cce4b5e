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
    from restore.training.engine import export_model

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
    ({"config": {"scale": 2, "num_blocks": 1, "channels": 30000, "in_channels": 3}}, "do not fit"),
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
