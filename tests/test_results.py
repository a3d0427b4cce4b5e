"""``run()``: the image (type preserved) with how it was made; ``AutoInpainter`` holds the inpainters it picks."""

import numpy as np
import torch
from PIL import Image

from restore.archs.srresnet import SRResNet
from restore.pipelines.inpainting import AutoInpainter, BaseInpainter, Inpainter
from restore.pipelines.results import InpaintResult, SRResult
from restore.pipelines.super_resolution import SuperResolver


def _image_and_mask(side=48):
    rng = np.random.default_rng(0)
    image = (rng.random((side, side, 3)) * 60 + 100).astype(np.uint8)
    mask = np.zeros((side, side), np.uint8)
    mask[side // 3:2 * side // 3, side // 3:2 * side // 3] = 255
    return image, mask


def test_inpainter_run_is_the_call_with_its_account():
    image, mask = _image_and_mask()
    inpainter = Inpainter("ns")
    result = inpainter.run(Image.fromarray(image), Image.fromarray(mask))
    assert isinstance(result, InpaintResult) and isinstance(result.image, Image.Image)
    again = inpainter(Image.fromarray(image), Image.fromarray(mask))
    assert np.array_equal(np.asarray(result.image), np.asarray(again))
    assert (result.method, result.model, result.reason, result.trace) == ("ns", None, None, {})
    assert result.info[0]["crop"] is None and result.seconds >= 0


def test_auto_holds_one_inpainter_per_choice_and_reports_it():
    image, mask = _image_and_mask()
    auto = AutoInpainter()
    assert isinstance(auto, BaseInpainter) and not isinstance(auto, Inpainter)
    assert (auto.method, auto.name, auto.resolution) == ("auto", "auto", auto.face_side)
    result = auto.run(image, mask)
    assert result.method == "fsr-fast" and result.model is None and "holes" in result.reason
    assert np.array_equal(result.image, Inpainter("fsr-fast")(image, mask))  # the same pixels as the method itself
    scattered = (np.random.default_rng(1).random(mask.shape) > 0.8).astype(np.uint8) * 255
    assert auto.run(image, scattered).method == "biharmonic"
    assert sorted(auto.inpainters) == [(None, "biharmonic"), (None, "fsr-fast"), (None, "telea")]  # telea: fallback
    assert all(type(i) is Inpainter for i in auto.inpainters.values())
    assert auto.last_info[0]["method"] == "biharmonic" and repr(auto).startswith("Inpainter(method='auto'")


def test_auto_keeps_the_settings_an_inpainter_resolves():
    auto, plain = AutoInpainter(device="cpu", seed=3, lam=0.01), Inpainter("telea", device="cpu", seed=3, lam=0.01)
    for key in AutoInpainter.SETTINGS:
        assert getattr(auto, key) == getattr(plain, key), key


def test_super_resolver_run_is_the_call_with_its_account():
    sr = SuperResolver(SRResNet(scale=2, num_blocks=1, channels=8), device="cpu", name="tiny")
    image = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    result = sr.run(image)
    assert isinstance(result, SRResult) and result.image.dtype == np.uint8 and result.image.shape == (40, 60, 3)
    assert np.array_equal(result.image, sr(image))
    assert (result.model, result.reason, result.measures) == ("tiny", None, {})
    assert result.stats["tiles"] == 1 and result.seconds >= 0
