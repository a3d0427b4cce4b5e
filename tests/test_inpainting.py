"""Inpainting library: masks, importance weights, latent search, blending, baselines, crops, Inpainter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from restore import archs
from restore.errors import RestoreError
from restore.inpainting import blending, classical, crop, masks, semantic
from restore.pipelines.inpainting import Inpainter


@pytest.fixture(scope="module")
def tiny_gan():
    torch.manual_seed(0)
    return archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8).eval()


@pytest.fixture(scope="module")
def tiny_vae():
    torch.manual_seed(1)
    return archs.build("vae", resolution=32, channels=1, nz=16, width=8).eval()


def centre_known(b=1, size=32, lo=8, hi=24):
    known = torch.ones(b, 1, size, size)
    known[..., lo:hi, lo:hi] = 0
    return known


# ----------------------------------------------------------------------------- masks
def test_mask_conventions_gray_rgb_rgba_threshold():
    hole = np.zeros((6, 6), np.uint8)
    hole[2:4, 2:4] = 255
    hole[0, 0] = 127  # at the threshold: not a hole
    hole[5, 5] = 128  # just above: a hole
    known = masks.mask_to_known(hole)[0, 0]
    assert known[2:4, 2:4].sum() == 0 and known[0, 0] == 1 and known[5, 5] == 0
    assert int((known == 0).sum()) == 5

    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[1, 1] = (200, 0, 0)  # a coloured stroke counts
    assert masks.mask_to_known(rgb)[0, 0, 1, 1] == 0

    rgba = np.zeros((6, 6, 4), np.uint8)  # strokes painted on a transparent layer: alpha is the mask
    rgba[3, 4, 3] = 255
    known = masks.mask_to_known(Image.fromarray(rgba, "RGBA"))[0, 0]
    assert known[3, 4] == 0 and int(known.sum()) == 35


def test_mask_inverted_and_resized_nearest():
    black_hole = np.full((4, 4), 255, np.uint8)
    black_hole[0:2, 0:2] = 0
    known = masks.mask_to_known(black_hole, invert=True)[0, 0]
    assert known[0:2, 0:2].sum() == 0 and known.sum() == 12
    big = masks.mask_to_known(black_hole, (8, 8), invert=True)[0, 0]
    expected = torch.ones(8, 8)
    expected[0:4, 0:4] = 0  # nearest neighbour: each pixel becomes a 2x2 block, no grey edge
    assert torch.equal(big, expected)


def test_mask_of_another_aspect_ratio_is_refused_and_a_resize_is_reported():
    hole = np.zeros((16, 16), np.uint8)
    hole[4:8, 4:8] = 255
    with pytest.raises(RestoreError, match="the mask is 16x16 but the image is 60x40: another aspect ratio"):
        masks.mask_to_known(hole, (40, 60))
    notes = []
    known = masks.mask_to_known(hole, (64, 64), on_resize=notes.append, name="m.png")
    assert known.shape == (1, 1, 64, 64) and notes == ["m.png: mask 16x16 resized to 64x64 (nearest)"]
    notes.clear()
    masks.mask_to_known(hole, (16, 16), on_resize=notes.append)
    assert notes == []  # same size: nothing to say


@pytest.mark.parametrize("mask_hw, image_hw, resized", [
    ((200, 300), (400, 601), True),  # rounding of a half-size mask
    ((16, 16), (32, 33), True),  # one pixel of a small side
    ((64, 64), (64, 64), False),
])
def test_check_mask_size_allows_rounding(mask_hw, image_hw, resized):
    assert masks.check_mask_size(mask_hw, image_hw) is resized


@pytest.mark.parametrize("mask_hw, image_hw", [((64, 64), (400, 600)), ((100, 150), (100, 100)), ((200, 300), (400, 620))])
def test_check_mask_size_refuses_another_shape(mask_hw, image_hw):
    with pytest.raises(RestoreError, match=f"{mask_hw[1]}x{mask_hw[0]} but the image is {image_hw[1]}x{image_hw[0]}"):
        masks.check_mask_size(mask_hw, image_hw)


def test_mask_errors_empty_full_unreadable(tmp_path):
    with pytest.raises(RestoreError, match="empty"):
        masks.mask_to_known(np.zeros((4, 4), np.uint8))
    with pytest.raises(RestoreError, match="covers the whole image"):
        masks.mask_to_known(np.full((4, 4), 255, np.uint8))
    bad = tmp_path / "mask.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(RestoreError, match="unreadable mask"):
        masks.load_mask(bad)


def test_match_masks_by_stem(tmp_path):
    (tmp_path / "m").mkdir()
    for stem in ("a", "b"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "m" / f"{stem}.png")
    images = [tmp_path / "a.jpg", tmp_path / "b.png"]
    matched = masks.match_masks(images, tmp_path / "m")
    assert matched[images[0]].name == "a.png" and matched[images[1]].name == "b.png"
    with pytest.raises(RestoreError, match="no mask named c"):
        masks.match_masks([tmp_path / "c.png"], tmp_path / "m")
    single = masks.match_masks(images, tmp_path / "m" / "a.png")
    assert set(single.values()) == {tmp_path / "m" / "a.png"}


# ----------------------------------------------------------------------------- weights and losses
def test_importance_weights_match_hand_computed_map():
    known = torch.ones(1, 1, 7, 7)
    known[0, 0, 3, 3] = 0  # one hole pixel in the middle
    w = semantic.importance_weights(known, window=3)[0, 0]
    expected = torch.zeros(7, 7)
    expected[2:5, 2:5] = 1 / 9  # the 8 neighbours see one hole pixel among 9
    expected[3, 3] = 0  # the hole itself weighs nothing
    assert torch.allclose(w, expected, atol=1e-6)

    # A 2-pixel hole at the left edge, window 3: out-of-image pixels count as not-hole.
    known = torch.ones(1, 1, 4, 4)
    known[0, 0, 1:3, 0] = 0
    w = semantic.importance_weights(known, window=3)[0, 0] * 9
    expected = torch.tensor([[0, 1, 0, 0], [0, 2, 0, 0], [0, 2, 0, 0], [0, 1, 0, 0]], dtype=torch.float)
    expected[0, 0] = expected[3, 0] = 1
    assert torch.allclose(w, expected, atol=1e-5)


def test_prior_loss_is_stable_log_one_minus_d():
    logits = torch.tensor([-50.0, 0.0, 3.0, 80.0])
    loss = semantic.gan_prior_loss(logits, lam=1.0)
    assert torch.isfinite(loss).all()
    assert torch.allclose(loss[:3], torch.log(1 - torch.sigmoid(logits[:3])), atol=1e-5)


# ----------------------------------------------------------------------------- search
@pytest.mark.slow
def test_gan_search_decreases_loss_and_freezes_networks(tiny_gan):
    torch.manual_seed(0)
    y = tiny_gan.generate(tiny_gan.sample_latent(2)).detach()  # reachable targets
    known = centre_known(2)
    before = [p.clone() for p in tiny_gan.parameters()]
    result = semantic.gan_search(tiny_gan, y, known, steps=40, restarts=3, seed=1, lr=0.05)
    best = result.best_trace("total")
    assert best.shape == (40, 2)
    assert (best[-1] < best[0]).all()
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_gan.parameters()))
    assert all(p.grad is None and p.requires_grad for p in tiny_gan.parameters())
    assert result.z.abs().max() <= 1.0  # uniform prior: clipped into [-1, 1]


@pytest.mark.slow
def test_restart_batching_picks_the_best(tiny_gan):
    y = torch.rand(2, 1, 32, 32)
    known = centre_known(2)
    result = semantic.gan_search(tiny_gan, y, known, steps=3, restarts=5, seed=0)
    # Each image alone gives the same answer: batching images x restarts does not couple them.
    for i in range(2):
        single = semantic.gan_search(tiny_gan, y[i:i + 1], known[i:i + 1], steps=3, restarts=5, seed=0)
        assert torch.allclose(single.loss, result.loss[i:i + 1], atol=1e-3)
    assert result.trace["total"].shape == (3, 2, 5)
    # With no steps the search only scores its starts: the winner must be the lowest-scoring one.
    starts = semantic.gan_search(tiny_gan, y, known, steps=0, restarts=5, seed=0)
    z0 = tiny_gan.sample_latent(10, generator=torch.Generator().manual_seed(0)).view(2, 5, -1)
    with torch.no_grad():
        w = semantic.importance_weights(known).repeat_interleave(5, 0)
        g = tiny_gan.generate(z0.reshape(10, -1))
        scores = (semantic.context_loss(g, y.repeat_interleave(5, 0), w)
                  + semantic.gan_prior_loss(tiny_gan.discriminate(g), semantic.DEFAULT_LAMBDA)).view(2, 5)
    assert torch.equal(starts.restart, scores.argmin(1))
    assert torch.allclose(starts.loss, scores.min(1).values, atol=1e-4)
    # The winner has the lowest loss at the final codes (recomputed here from scratch).
    with torch.no_grad():
        w = semantic.importance_weights(known)
        for i in range(2):
            g = tiny_gan.generate(result.z[i:i + 1])
            loss = semantic.context_loss(g, y[i:i + 1], w[i:i + 1]) + \
                semantic.gan_prior_loss(tiny_gan.discriminate(g), semantic.DEFAULT_LAMBDA)
            assert torch.allclose(loss, result.loss[i:i + 1], atol=1e-3)


@pytest.mark.slow
def test_gaussian_prior_is_projected_and_vae_search_runs(tiny_vae):
    gan = archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8, prior="gaussian")
    y = torch.rand(1, 1, 32, 32)
    r = semantic.gan_search(gan, y, centre_known(), steps=5, restarts=2)
    assert torch.allclose(r.z.norm(dim=1), torch.tensor([4.0]), atol=1e-4)
    target = tiny_vae.decode(torch.randn(1, 16)).detach()
    r_random = semantic.vae_search(tiny_vae, target, centre_known(), steps=30, restarts=2, lr=0.05)
    r_encoder = semantic.vae_search(tiny_vae, target, centre_known(), steps=30, restarts=2, lr=0.05, init="encoder")
    for r in (r_random, r_encoder):
        assert r.best_trace("total")[-1] < r.best_trace("total")[0]


# ----------------------------------------------------------------------------- blending, baselines, crops
@pytest.mark.parametrize("method", ["exact", "opencv"])
def test_poisson_blend_keeps_known_and_removes_offset(method):
    y = torch.linspace(0.2, 0.8, 24).view(1, 1, 1, 24).expand(1, 3, 24, 24).contiguous()
    known = torch.ones(1, 1, 24, 24)
    known[..., 0:10, 6:14] = 0  # touches the top border
    fill = y + 0.15  # right gradients, wrong level: blending must remove the offset
    out = blending.poisson_blend(fill, y, known, method=method)
    assert torch.equal(out[known.bool().expand_as(y)], y[known.bool().expand_as(y)])
    hole = ~known.bool().expand_as(y)
    tolerance = 1e-6 if method == "exact" else 0.02
    assert (out[hole] - y[hole]).abs().max() < tolerance


@pytest.mark.parametrize("method", classical.CLASSICAL_METHODS)
def test_classical_baselines_fill_smoothly(method):
    y = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32).contiguous()
    known = centre_known(1, 32, 12, 20)
    broken = y * known  # hole is black
    out = classical.inpaint_classical(broken, known, method)
    assert torch.equal(out[known.bool().expand_as(y)], y[known.bool().expand_as(y)])
    hole = ~known.bool().expand_as(y)
    assert (out[hole] - y[hole]).abs().mean() < 0.05  # a ramp is easy to continue


def test_crop_plan_and_any_size_fill_respects_known():
    known = torch.ones(1, 1, 40, 100)
    known[..., 10:20, 80:95] = 0
    box = crop.plan_crop(known, resolution=32, margin=0.5)
    assert box.size == 32 and box.top + box.size <= 40 and box.left + box.size <= 100
    assert box.top <= 10 and box.top + box.size >= 20 and box.left <= 80 and box.left + box.size >= 95
    seen = {}

    def fill_fn(y, k):
        seen["shape"] = tuple(y.shape)
        return torch.zeros_like(y)

    y = torch.rand(1, 3, 40, 100)
    fill, info = crop.fill_any_size(y, known, fill_fn, 32)
    assert seen["shape"] == (1, 3, 32, 32) and info["crop"] == box.as_dict()
    assert fill[..., 10:20, 80:95].abs().max() == 0


# ----------------------------------------------------------------------------- Inpainter
def test_inpainter_returns_input_type_and_keeps_known_pixels(tiny_gan, tiny_vae, rgb_image):
    mask = np.zeros(rgb_image.shape[:2], np.uint8)
    mask[10:30, 20:40] = 255
    for method in ("gan", "gan-vae-init"):
        inp = Inpainter(method, tiny_gan, tiny_vae, device="cpu", steps=4, restarts=2)
        out = inp(rgb_image, mask)
        assert out.dtype == np.uint8 and out.shape == rgb_image.shape
        assert np.array_equal(out[mask == 0], rgb_image[mask == 0])
        assert inp.last_info[0]["crop"] is not None and len(inp.last_trace["total"][0]) == 4
    pil = Image.fromarray(rgb_image).convert("L")
    out = Inpainter("vae", vae=tiny_vae, device="cpu", steps=2, restarts=1)(pil, Image.fromarray(mask))
    assert isinstance(out, Image.Image) and out.mode == "L" and out.size == pil.size
    x = torch.rand(3, 32, 32)
    out = Inpainter("ns")(x, centre_known()[0, 0] < 0.5)
    assert torch.is_tensor(out) and out.shape == x.shape


def test_inpainter_from_pretrained_errors():
    with pytest.raises(RestoreError, match="available"):
        Inpainter.from_pretrained("no-such-model", "gan")
    with pytest.raises(RestoreError, match="unknown inpainting method"):
        Inpainter.from_pretrained(None, "magic")


def test_default_budget_follows_the_searchs_start(tiny_gan, tiny_vae):
    from restore.pipelines.priors import SEARCH_DEFAULTS
    from restore.pipelines.projection import Projector

    def budget(x):
        return x.steps, x.restarts

    cpu = {start: table["cpu"] for start, table in SEARCH_DEFAULTS.items()}
    assert budget(Inpainter("gan", tiny_gan, device="cpu")) == cpu["random"]
    assert budget(Inpainter("vae", vae=tiny_vae, device="cpu")) == cpu["random"]
    assert budget(Inpainter("gan-vae-init", tiny_gan, tiny_vae, device="cpu")) == cpu["encoder"]
    assert budget(Inpainter("vae", vae=tiny_vae, vae_init="encoder", device="cpu")) == cpu["encoder"]
    assert budget(Projector(tiny_gan, device="cpu", lpips_weight=0)) == cpu["projection"]
    assert budget(Inpainter("gan-vae-init", tiny_gan, tiny_vae, device="cpu", steps=7, restarts=3)) == (7, 3)
    assert cpu["encoder"][1] < cpu["random"][1]  # one restart from the encoder's start (the grid's pick)


def test_gan_vae_init_with_different_latent_sizes(tiny_gan):
    vae = archs.build("vae", resolution=32, channels=1, nz=8, width=8).eval()
    y = torch.rand(2, 1, 32, 32)
    known = centre_known(2)
    z = semantic.vae_guided_init(tiny_gan, vae, y, known, steps=3, restarts=2)
    assert z.shape == (2, 16) and z.abs().max() <= 1.0
    out = Inpainter("gan-vae-init", tiny_gan, vae, device="cpu", steps=4, restarts=2).inpaint(y, known)
    assert torch.equal(out[known.bool().expand_as(y)], y[known.bool().expand_as(y)])


def test_code_adam_is_torch_adam():
    """The search's own Adam (it avoids torch.optim's start-up cost) takes exactly torch.optim.Adam's steps."""
    from restore.inpainting.semantic import CodeAdam

    target = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    ours = torch.zeros(6, 10, requires_grad=True)
    theirs = torch.zeros(6, 10, requires_grad=True)
    mine, ref = CodeAdam(ours, lr=0.03), torch.optim.Adam([theirs], lr=0.03, betas=(0.9, 0.999))
    for _ in range(25):
        for z in (ours, theirs):
            z.grad = None
            ((z - target) ** 3).abs().sum().backward()
        mine.step()
        ref.step()
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-6)
    assert (ours - target).abs().mean() < target.abs().mean()  # it really moved towards the target


def test_snapshots_equal_shorter_searches(tiny_gan):
    # One long search gives the steps-to-quality curve: its snapshot after s steps is the s-step search.
    torch.manual_seed(0)
    y, known = torch.rand(2, 1, 32, 32), centre_known(2)
    long = semantic.gan_search(tiny_gan, y, known, steps=6, restarts=3, seed=0, snapshot_steps=(0, 2, 6))
    assert list(long.snapshots) == [0, 2, 6] and long.snapshots[6] is long
    for s in (0, 2):
        short = semantic.gan_search(tiny_gan, y, known, steps=s, restarts=3, seed=0)
        snap = long.snapshots[s]
        for a, b in ((snap.fill, short.fill), (snap.z, short.z), (snap.loss, short.loss)):
            torch.testing.assert_close(a, b)
        assert torch.equal(snap.restart, short.restart)
        torch.testing.assert_close(snap.trace["total"], short.trace["total"])


def test_crops_come_back_through_the_first_sr_scale_that_reaches_them():
    calls = []

    def fake_sr(scale):
        def up(x):
            calls.append(scale)
            return F.interpolate(x, scale_factor=scale, mode="nearest")
        return up

    y = torch.rand(1, 3, 160, 160)
    known = torch.ones(1, 1, 160, 160)
    known[..., 60:90, 60:90] = 0
    upscalers = {2: fake_sr(2), 4: fake_sr(4)}
    fill, info = crop.fill_any_size(y, known, lambda t, k: torch.full_like(t, 0.5), 32, upscalers=upscalers,
                                    box=crop.CropBox(top=20, left=20, size=100))
    assert calls == [4] and info["upscale"] == "sr-x4, resized 128->100"  # x2 gives 64 < 100
    assert fill.shape == y.shape and torch.allclose(fill[..., 20:120, 20:120], torch.tensor(0.5))
    _, info = crop.fill_any_size(y, known, lambda t, k: t, 32, upscalers=upscalers, box=crop.CropBox(20, 20, 64))
    assert calls == [4, 2] and info["upscale"] == "sr-x2"
    _, info = crop.fill_any_size(y, known, lambda t, k: t, 32, upscalers={}, box=crop.CropBox(20, 20, 100))
    assert info["upscale"] == "bicubic"
