"""Realistic SR degradations and the no-reference measures: each operation measured by its effect."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from restore.data.degradation import degrade
from restore.data.realistic import (BENCHMARK_DEGRADATIONS, FAMILIES, RealisticDegradation,
                                    apply_benchmark_degradation, blur, blur_kernel, gaussian_noise, jpeg,
                                    make_degradation, poisson_noise, random_blur_kernel, sinc_kernel)
from restore.metrics.noreference import blockiness, jpeg_quality, noise_sigma


@pytest.fixture(scope="module")
def astronaut_lr():
    hr = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return degrade(hr, 4)  # (1, 3, 128, 128), clean 8-bit


def _moments(kernel: torch.Tensor):
    k = kernel.double()
    r = torch.arange(k.shape[0], dtype=torch.float64) - (k.shape[0] - 1) / 2
    var_x = (k.sum(0) * r ** 2).sum()
    var_y = (k.sum(1) * r ** 2).sum()
    return float(var_x), float(var_y)


@pytest.mark.parametrize("sigma", [0.8, 1.5, 2.5])
def test_gaussian_blur_width_is_the_sigma_asked(sigma):
    impulse = torch.zeros(1, 1, 41, 41)
    impulse[..., 20, 20] = 1
    response = blur(impulse, blur_kernel(21, "iso", sigma))[0, 0]
    assert response.sum() == pytest.approx(1.0, abs=1e-5)
    var_x, var_y = _moments(response[10:31, 10:31])
    assert math.sqrt(var_x) == pytest.approx(sigma, rel=0.03)
    assert math.sqrt(var_y) == pytest.approx(sigma, rel=0.03)


def test_anisotropic_kernel_has_its_two_widths():
    var_x, var_y = _moments(blur_kernel(21, "aniso", 2.5, 0.8, theta=0.0))
    assert math.sqrt(var_x) == pytest.approx(2.5, rel=0.05)
    assert math.sqrt(var_y) == pytest.approx(0.8, rel=0.05)
    var_x, var_y = _moments(blur_kernel(21, "aniso", 2.5, 0.8, theta=math.pi / 2))  # rotated: swapped
    assert math.sqrt(var_x) == pytest.approx(0.8, rel=0.05)


def test_generalized_and_plateau_kernels_change_the_tails():
    gauss = blur_kernel(21, "iso", 2.0)
    heavy = blur_kernel(21, "generalized_iso", 2.0, beta=0.5)
    flat = blur_kernel(21, "generalized_iso", 2.0, beta=4.0)
    for k in (gauss, heavy, flat, blur_kernel(21, "plateau_iso", 2.0, beta=1.5)):
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-5) and float(k.min()) >= 0
    assert _moments(heavy)[0] > _moments(gauss)[0] > _moments(flat)[0]


def test_sinc_kernel_rings():
    k = sinc_kernel(math.pi / 3, 21)
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(k.min()) < 0  # negative lobes: the ringing it adds
    assert torch.allclose(k, k.flip(0)) and torch.allclose(k, k.T)


def test_random_kernels_are_valid():
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = random_blur_kernel(rng)
        assert k.shape[0] % 2 == 1 and torch.isfinite(k).all()
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("sigma", [5.0, 15.0])
@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_has_the_std_asked(sigma, gray):
    flat = torch.full((1, 3, 256, 256), 0.5)
    noisy = gaussian_noise(flat, sigma, gray=gray, generator=torch.Generator().manual_seed(0))
    diff = (noisy - flat) * 255
    assert float(diff.std()) == pytest.approx(sigma, rel=0.03)
    if gray:
        assert torch.equal(diff[:, 0], diff[:, 1]) and torch.equal(diff[:, 1], diff[:, 2])
    else:
        assert not torch.equal(diff[:, 0], diff[:, 1])


def test_poisson_noise_std_follows_the_signal():
    gen = torch.Generator().manual_seed(0)
    for level in (0.2, 0.6):
        flat = torch.full((1, 3, 256, 256), level)
        diff = poisson_noise(flat, 2.0, generator=gen) - flat
        # counts ~ Poisson(255 x): std(diff) = scale * sqrt(255 x) / 255
        assert float(diff.std()) == pytest.approx(2.0 * math.sqrt(255 * level) / 255, rel=0.05)


def test_jpeg_is_the_real_codec_and_quality_is_recoverable(astronaut_lr):
    scores = {}
    for q in (30, 50, 70, 90):
        out = jpeg(astronaut_lr, q)
        assert out.shape == astronaut_lr.shape
        assert torch.equal(out, torch.round(out * 255) / 255)  # decoded 8-bit
        scores[q] = blockiness(out)
    assert blockiness(astronaut_lr) < 1.08
    # blockiness orders the qualities, so it tells a q30 from a q50 from a q90 without the file
    assert scores[30] > scores[50] > scores[70] > scores[90]
    assert scores[30] > 1.2
    # and the same codec's file gives its quality back from the quantisation table
    buf = io.BytesIO()
    Image.fromarray((astronaut_lr[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
        buf, "JPEG", quality=63)
    buf.seek(0)
    with open_tmp(buf) as path:
        assert jpeg_quality(path) == 63


class open_tmp:
    def __init__(self, buf):
        import tempfile

        self.f = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
        self.f.write(buf.getvalue())
        self.f.close()

    def __enter__(self):
        return self.f.name

    def __exit__(self, *exc):
        import os

        os.unlink(self.f.name)


def test_jpeg_quality_is_none_for_other_formats(tmp_path):
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    assert jpeg_quality(tmp_path / "a.png") is None
    assert jpeg_quality(tmp_path / "missing.jpg") is None


def test_noise_estimate_tracks_the_noise_added():
    flat = torch.full((1, 3, 128, 128), 0.5)
    gen = torch.Generator().manual_seed(1)
    for sigma in (5, 10, 20):
        assert noise_sigma(gaussian_noise(flat, sigma, generator=gen)) == pytest.approx(sigma, rel=0.1)


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (2, 2), (7, 300)])
def test_measures_of_tiny_images_are_quiet(size, recwarn):
    x = torch.rand(1, 3, *size)
    assert noise_sigma(x) == 0.0 and blockiness(x) > 0
    assert not recwarn.list


def test_realistic_degradation_is_seeded_by_step_and_quantised():
    hr = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    make_lr = RealisticDegradation(4, seed=3)
    a, b, c = make_lr(hr, 5), make_lr(hr, 5), make_lr(hr, 6)
    assert a.shape == (4, 3, 16, 16)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, torch.round(a * 255) / 255)
    assert not torch.equal(RealisticDegradation(4, seed=3, rank=1)(hr, 5), a)  # DDP ranks differ


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "clean"])
def test_every_family_degrades(family, astronaut_lr):
    hr = torch.from_numpy(data.astronaut()[:192, :192]).permute(2, 0, 1)[None].float().repeat(4, 1, 1, 1) / 255
    lr = make_degradation(family, 4, seed=0)(hr, 0)
    assert lr.shape == (4, 3, 48, 48) and 0 <= float(lr.min()) and float(lr.max()) <= 1
    assert (lr - degrade(hr, 4)).abs().mean() > 1 / 255  # not the clean LR


def test_bicubic_degradation_is_the_benchmark_one():
    hr = torch.rand(2, 3, 32, 32)
    assert torch.equal(make_degradation("bicubic", 4)(hr, 0), degrade(hr, 4))
    with pytest.raises(ValueError, match="degradation must be"):
        make_degradation("gaussian", 4)


def test_benchmark_degradations_are_fixed_and_named(astronaut_lr):
    for name in BENCHMARK_DEGRADATIONS:
        a = apply_benchmark_degradation(astronaut_lr, name, seed=2)
        assert torch.equal(a, apply_benchmark_degradation(astronaut_lr, name, seed=2))
        assert a.shape == astronaut_lr.shape
    assert torch.equal(apply_benchmark_degradation(astronaut_lr, "clean"), astronaut_lr)
    noisy = apply_benchmark_degradation(astronaut_lr, "noise10")
    assert float((noisy - astronaut_lr).std() * 255) == pytest.approx(10, rel=0.1)
    with pytest.raises(ValueError, match="unknown benchmark degradation"):
        apply_benchmark_degradation(astronaut_lr, "jpeg40")
