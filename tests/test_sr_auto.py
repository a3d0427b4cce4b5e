"""`--model auto` for SR: the choice follows the measures, the CLI says what it chose and why."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from restore.archs.srresnet import SRResNet
from restore.cli.main import main
from restore.data.degradation import degrade
from restore.data.realistic import apply_benchmark_degradation
from restore.errors import RestoreError
from restore.pipelines.sr_auto import (AutoSuperResolver, auto_pair, choose_sr_model, decide, measure_input)
from restore.weight_files import export_model

PAIR = ["srresnet-x4", "srresnet-x4-real"]


@pytest.fixture(scope="module")
def lr():
    hr = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return degrade(hr, 4)


def test_clean_input_keeps_the_bicubic_model(lr):
    choice = choose_sr_model(lr, available=PAIR)
    assert choice.model == "srresnet-x4" and choice.reason.startswith("clean input")


@pytest.mark.parametrize("condition", ["jpeg30", "jpeg50", "noise10", "noise15", "blur0.6-noise10-jpeg50"])
def test_damaged_pixels_go_to_the_real_world_model(lr, condition):
    # pixels only (a PNG of a damaged image): blockiness or the noise estimate must tell
    damaged = apply_benchmark_degradation(lr, condition, seed=0)
    choice = choose_sr_model(damaged, available=PAIR)
    assert choice.model == "srresnet-x4-real", choice


def test_a_low_quality_jpeg_file_goes_to_the_real_world_model_by_its_tables(lr):
    choice = choose_sr_model(lr, jpeg_quality=60, available=PAIR)
    assert choice.model == "srresnet-x4-real" and "JPEG quality 60" in choice.reason
    assert choose_sr_model(lr, jpeg_quality=98, available=PAIR).model == "srresnet-x4"


def test_without_a_real_world_model_auto_still_upscales_and_says_so(lr):
    choice = choose_sr_model(lr, jpeg_quality=40, available=["srresnet-x4"])
    assert choice.model == "srresnet-x4" and "no srresnet-x4-real ships" in choice.reason
    with pytest.raises(RestoreError, match="needs the shipped srresnet-x4"):
        auto_pair(4, ["srgan-x4"])
    with pytest.raises(RestoreError, match="not x8"):
        auto_pair(8, PAIR)


def test_thresholds_can_be_overridden_for_calibration():
    m = {"jpeg_quality": None, "blockiness": 1.05, "noise_sigma": 6.0}
    assert decide(m, *auto_pair(4, PAIR)).model == "srresnet-x4"
    assert decide(m, *auto_pair(4, PAIR), noise_sigma_above=5.0).model == "srresnet-x4-real"
    assert decide(m, *auto_pair(4, PAIR), blockiness_above=1.0).model == "srresnet-x4-real"


def test_measures_use_a_grid_aligned_centre_crop():
    big = torch.rand(1, 3, 1000, 1300, generator=torch.Generator().manual_seed(0))
    m = measure_input(big)
    assert m["noise_sigma"] > 50  # uniform noise: std 74 on the 0..255 scale
    gray = measure_input(torch.full((1, 1, 40, 40), 0.5))
    assert gray["noise_sigma"] < 0.5 and gray["blockiness"] == pytest.approx(1.0, abs=0.01)


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auto")
    paths = []
    for seed, name in ((0, "clean-x2"), (1, "real-x2")):
        torch.manual_seed(seed)
        model = SRResNet(scale=2, num_blocks=1, channels=8).eval()
        paths.append(str(export_model(folder, name, model.state_dict(),
                                      card={"arch": "srresnet", "config": model.config, "scale": 2})))
    return paths


def test_auto_resolver_runs_the_chosen_model_and_keeps_the_type(two_models, lr):
    auto = AutoSuperResolver(scale=2, models=two_models, device="cpu", precision="fp32")
    clean_img = (lr[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = auto(clean_img)
    assert isinstance(out, np.ndarray) and out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert auto.last_choice.model == two_models[0]
    noisy = apply_benchmark_degradation(lr, "noise15", seed=0)
    out = auto(noisy)
    assert auto.last_choice.model == two_models[1]
    expected = auto.resolver(two_models[1])(noisy)
    assert torch.equal(out, expected)


def test_cli_auto_prints_one_line_per_image_with_the_reason(tmp_path, capsys, monkeypatch, two_models, lr):
    import restore.pipelines.sr_auto as sr_auto
    from restore import registry

    real_list = registry.list_models

    class Entry:
        def __init__(self, name):
            self.name, self.scale, self.kind = name, 2, "srresnet"

    # the registry's x2 pair points at the two tiny models
    monkeypatch.setitem(sr_auto.AUTO_MODELS, 2, tuple(two_models))
    monkeypatch.setattr(registry, "list_models", lambda task=None: [Entry(p) for p in two_models]
                        if task == "sr" else real_list(task))
    arr = (lr[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "clean.png")
    Image.fromarray(arr).save(tmp_path / "web.jpg", quality=40)
    code = main(["sr", str(tmp_path / "clean.png"), str(tmp_path / "web.jpg"), "--scale", "2", "-o",
                 str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"clean.png: {two_models[0]} (clean input" in err
    assert f"web.jpg: {two_models[1]} (JPEG quality 40 < 80" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clean_x2.png", "web_x2.jpg"]


def test_auto_resolver_run_says_which_model_and_why(two_models, lr):
    auto = AutoSuperResolver(scale=2, models=two_models, device="cpu", precision="fp32")
    noisy = apply_benchmark_degradation(lr, "noise15", seed=0)
    result = auto.run(noisy)
    assert torch.equal(result.image, auto(noisy)) and result.model == "real-x2"  # the card's name of the chosen file
    assert result.reason == auto.last_choice.reason and "noise sigma" in result.reason
    assert result.measures == auto.last_choice.measures and result.stats["tiles"] >= 1
