"""The SR degradation equals MATLAB's imresize bicubic, checked against references written independently."""

import numpy as np
import pytest
import torch
from PIL import Image

from restore.data.degradation import degrade, imresize


def _keys_cubic(t):
    """Keys (1981) cubic convolution kernel, a = -0.5, as published (MATLAB's imresize 'bicubic')."""
    t = np.abs(t)
    return np.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, np.where(t <= 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0.0))


def _matlab_downscale_reference(img: np.ndarray, factor: int) -> np.ndarray:
    """Direct per-pixel sum: MATLAB imresize(img, 1/factor) with antialiasing (kernel stretched by the
    factor, weights normalised to sum 1) and mirrored ('symmetric') borders."""
    h, w = img.shape
    pad = 2 * factor + 2
    padded = np.pad(img, pad, mode="symmetric")
    taps = np.arange(-pad, pad + 1)

    def weights(center):
        pos = np.floor(center) + taps
        wts = _keys_cubic((pos - center) / factor) / factor
        return pos.astype(int), wts / wts.sum()

    out = np.zeros((h // factor, w // factor))
    for i in range(h // factor):
        rows, wr = weights((i + 0.5) * factor - 0.5)  # output pixel centre in input coordinates
        for j in range(w // factor):
            cols, wc = weights((j + 0.5) * factor - 0.5)
            out[i, j] = wr @ padded[np.ix_(rows + pad, cols + pad)] @ wc
    return out


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_downscale_matches_direct_matlab_reference_including_borders(factor):
    rng = np.random.default_rng(factor)
    img = rng.random((12 * factor // 2 * 2, 10 * factor // 2 * 2))
    ref = _matlab_downscale_reference(img, factor)
    ours = imresize(torch.from_numpy(img)[None, None], 1 / factor)[0, 0].numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-9)


@pytest.mark.parametrize("factor,up", [(2, False), (3, False), (4, False), (2, True), (4, True)])
def test_interior_matches_pillow_bicubic(factor, up):
    # Pillow's BICUBIC is the same antialiased Keys kernel (a = -0.5); only border handling differs.
    rng = np.random.default_rng(0)
    img = rng.random((48, 36)).astype(np.float32)
    h, w = (48 * factor, 36 * factor) if up else (48 // factor, 36 // factor)
    pil = np.asarray(Image.fromarray(img, mode="F").resize((w, h), Image.BICUBIC), dtype=np.float64)
    ours = imresize(torch.from_numpy(img.astype(np.float64))[None, None], factor if up else 1 / factor)[0, 0].numpy()
    m = 3 * factor if up else 3
    np.testing.assert_allclose(ours[m:-m, m:-m], pil[m:-m, m:-m], atol=1e-5)
    assert np.abs(ours - pil).max() > 1e-4  # borders differ: MATLAB mirrors, Pillow renormalises


def test_shapes_sizes_batching_and_constant_images():
    x = torch.rand(3, 2, 30, 21, dtype=torch.float64)
    assert imresize(x, 0.25).shape == (3, 2, 8, 6)  # MATLAB: ceil(scale * size)
    assert imresize(x, size=(11, 40)).shape == (3, 2, 11, 40)
    assert imresize(x[0], 0.5).shape == (2, 15, 11)
    # each image of a batch is resized independently and float32 agrees with float64
    one = imresize(x[1:2], 0.5)
    np.testing.assert_allclose(imresize(x, 0.5)[1:2], one, atol=1e-12)
    np.testing.assert_allclose(imresize(x.float(), 0.5).double(), imresize(x, 0.5), atol=1e-5)
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(imresize(flat, 0.25), torch.full((1, 3, 4, 4), 0.3), atol=1e-6)
    with pytest.raises(ValueError):
        imresize(x, scale=0.5, size=(4, 4))


def test_degrade_clamps_quantizes_and_requires_multiples():
    hr = torch.zeros(1, 3, 16, 16)
    hr[..., 8:, :] = 1  # a hard edge overshoots under bicubic; degrade keeps [0, 1]
    assert imresize(hr, 0.25).min() < 0
    lr = degrade(hr, 4)
    assert lr.shape == (1, 3, 4, 4) and lr.min() >= 0 and lr.max() <= 1
    assert torch.equal(lr, torch.round(lr * 255) / 255)
    with pytest.raises(ValueError):
        degrade(torch.rand(1, 3, 18, 16), 4)
