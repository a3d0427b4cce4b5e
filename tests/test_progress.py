"""Progress bars on long jobs: tqdm on stderr when it is a terminal, never with ``--no-progress`` or in the library
by default. Tiny jobs; the terminal is faked by patching :func:`restore.cli.options._stderr_is_tty`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from restore import archs
from restore.weight_files import export_model


@pytest.fixture
def terminal(monkeypatch):
    import restore.cli.options as options

    monkeypatch.setattr(options, "_stderr_is_tty", lambda: True)


@pytest.fixture(scope="module")
def tiny_gan_file(tmp_path_factory):
    torch.manual_seed(0)
    model = archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8)
    return export_model(tmp_path_factory.mktemp("weights"), "tiny-dcgan", model.state_dict(),
                        {"arch": "dcgan", "config": model.config, "resolution": [1, 32, 32]})


def _png(path, size=(40, 40)):
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("flags, shown", [((), True), (("--no-progress",), False)])
def test_sr_shows_the_tiles_of_one_large_image(run_cli, tmp_path, terminal, flags, shown):
    code, _, err = run_cli("sr", _png(tmp_path / "a.png"), "--model", "bicubic", "--tile", "16", "--device", "cpu",
                           *flags)
    assert code == 0, err
    assert ("bicubic x4:" in err and "/9 [" in err and "tile/s" in err) is shown, err  # 40 / 16 -> 3 x 3 tiles


def test_sr_of_one_tile_or_off_a_terminal_draws_no_bar(run_cli, tmp_path):
    code, _, err = run_cli("sr", _png(tmp_path / "a.png"), "--model", "bicubic", "--tile", "16", "--device", "cpu")
    assert code == 0 and "tile/s" not in err and "%|" not in err  # stderr is not a terminal here


@pytest.mark.parametrize("flags, shown", [((), True), (("--no-progress",), False)])
def test_sr_folder_runs_count_images(run_cli, tmp_path, terminal, flags, shown):
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        _png(tmp_path / "in" / f"{name}.png", size=(8, 8))
    code, _, err = run_cli("sr", tmp_path / "in", "--model", "bicubic", "--device", "cpu", *flags)
    assert code == 0, err
    assert ("sr x4:" in err and "/2 [" in err) is shown, err


@pytest.mark.parametrize("flags, shown", [((), True), (("--no-progress",), False)])
def test_inpaint_shows_the_latent_search_steps(run_cli, tmp_path, terminal, tiny_gan_file, flags, shown):
    image = _png(tmp_path / "a.png", size=(32, 32))
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 8:20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    code, _, err = run_cli("inpaint", image, "--mask", tmp_path / "m.png", "--model", tiny_gan_file, "--steps", "3",
                           "--restarts", "1", "--device", "cpu", *flags)
    assert code == 0, err
    assert ("inpaint (gan):" in err and "/3 [" in err) is shown, err


@pytest.mark.parametrize("flags, shown", [((), True), (("--no-progress",), False)])
def test_project_shows_its_steps(run_cli, tmp_path, terminal, tiny_gan_file, flags, shown):
    code, _, err = run_cli("project", _png(tmp_path / "a.png", size=(32, 32)), "-o", tmp_path / "r.png", "--model",
                           tiny_gan_file, "--steps", "3", "--restarts", "1", "--lpips-weight", "0", "--device", "cpu",
                           *flags)
    assert code == 0, err
    assert ("project:" in err and "/3 [" in err) is shown, err


def test_the_library_is_silent_by_default_and_shows_tiles_when_asked(capsys):
    from restore.archs.classical import ClassicalUpscaler
    from restore.pipelines.super_resolution import SuperResolver

    image = torch.rand(1, 3, 40, 40)
    SuperResolver(ClassicalUpscaler(2, "bicubic"), device="cpu", tile=16)(image)
    assert capsys.readouterr().err == ""
    SuperResolver(ClassicalUpscaler(2, "bicubic"), device="cpu", tile=16, progress=True)(image)
    assert "/9 [" in capsys.readouterr().err
