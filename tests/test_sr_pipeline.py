"""SuperResolver and host-side tiling, with tiny random-weight SRResNets on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from restore.archs.srresnet import SRResNet
from restore.errors import RestoreError
from restore.pipelines.super_resolution import SuperResolver, output_size
from restore.pipelines.tiling import MIN_TILE, receptive_radius, tiled_apply


def _random_srresnet(scale=2, num_blocks=2, channels=8, seed=0) -> SRResNet:
    torch.manual_seed(seed)
    model = SRResNet(scale=scale, num_blocks=num_blocks, channels=channels).eval()
    for module in model.modules():  # non-trivial BN statistics, so folding is really exercised
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module")
def model() -> SRResNet:
    return _random_srresnet()


@pytest.fixture(scope="module")
def resolver(model) -> SuperResolver:
    return SuperResolver(model, device="cpu", precision="fp32")


def _image(h=20, w=28, c=3, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((h, w, c), dtype=np.float32)


# ----------------------------------------------------------------------------- types in, types out
def test_tensor_batch_round_trip_matches_the_network(model, resolver):
    x = torch.rand(2, 3, 18, 22)
    before = x.clone()
    out = resolver(x)
    assert out.shape == (2, 3, 36, 44) and out.dtype == torch.float32
    torch.testing.assert_close(x, before)  # input untouched
    with torch.no_grad():
        expected = model(x).clamp(0, 1)
    assert (out - expected).abs().max() < 1e-4  # BN folding + channels_last change nothing
    assert isinstance(model.blocks[0].body[1], nn.BatchNorm2d)  # the caller's model was not folded


def test_tensor_chw_with_alpha_channel(resolver):
    x = torch.rand(4, 10, 12)
    out = resolver(x)
    assert out.shape == (4, 20, 24)
    torch.testing.assert_close(out[:3], resolver(x[:3]))  # colour does not depend on alpha


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_numpy_round_trip_keeps_dtype_and_layout(resolver, dtype):
    f = _image()
    arr = f if dtype == np.float32 else np.round(f * np.iinfo(dtype).max).astype(dtype)
    out = resolver(arr)
    assert out.dtype == dtype and out.shape == (40, 56, 3)
    out2d = resolver(arr[..., 0])  # (H, W) gray stays (H, W)
    assert out2d.dtype == dtype and out2d.shape == (40, 56)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "I;16"])
def test_pil_round_trip_keeps_mode(resolver, mode):
    if mode == "I;16":
        img = Image.fromarray((_image(c=1)[..., 0] * 65535).astype(np.uint16))
        assert img.mode == "I;16"
    else:
        img = Image.fromarray((_image(c=4) * 255).astype(np.uint8), "RGBA").convert(mode)
    out = resolver(img)
    assert isinstance(out, Image.Image) and out.mode == img.mode and out.size == (56, 40)


def test_unsupported_input_types_are_one_line_errors(resolver):
    with pytest.raises(RestoreError, match="unsupported input type"):
        resolver([[0.1, 0.2]])
    with pytest.raises(RestoreError, match="dtype"):
        resolver(np.zeros((8, 8, 3), np.int32))
    with pytest.raises(RestoreError, match="outscale"):
        resolver(torch.rand(1, 3, 8, 8), outscale=0)


# ----------------------------------------------------------------------------- faithful channels
def test_alpha_is_upscaled_apart_and_does_not_touch_colour(resolver):
    rgb = _image()
    alpha = np.zeros((20, 28, 1), np.float32)
    alpha[:, 14:] = 1.0
    out = resolver(np.concatenate([rgb, alpha], 2))
    assert out.shape == (40, 56, 4)
    np.testing.assert_allclose(out[..., :3], resolver(rgb), atol=1e-6)
    expected = F.interpolate(torch.from_numpy(alpha).permute(2, 0, 1)[None], size=(40, 56), mode="bicubic",
                             antialias=True).clamp(0, 1)[0, 0].numpy()
    np.testing.assert_allclose(out[..., 3], expected, atol=1e-6)
    assert out[:, :20, 3].max() < 1e-6 and out[:, 36:, 3].min() > 1 - 1e-6  # flat areas stay exact


def test_gray_in_gray_out_is_luma_of_the_colour_pass(model, resolver):
    gray = torch.rand(1, 1, 16, 20)
    out = resolver(gray)
    assert out.shape == (1, 1, 32, 40)
    with torch.no_grad():
        rgb = model(gray.expand(-1, 3, -1, -1)).clamp(0, 1)
    luma = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    assert (out[:, 0] - luma).abs().max() < 1e-4


def test_sixteen_bit_keeps_more_than_256_levels(resolver):
    ramp = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    out = resolver(np.stack([ramp] * 3, 2))
    assert out.dtype == np.uint16 and len(np.unique(out)) > 256


# ----------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("outscale, expected", [(None, (40, 56)), (2, (40, 56)), (3, (60, 84)),
                                                (1.5, (30, 42)), (0.5, (10, 14)), (2.25, (45, 63))])
def test_outscale_sizes(resolver, outscale, expected):
    out = resolver(torch.rand(1, 3, 20, 28), outscale=outscale)
    assert tuple(out.shape[-2:]) == expected


def test_output_size_rounds_halves_up():
    assert output_size(7, 9, 2.5) == (18, 23)  # 17.5 -> 18, 22.5 -> 23 (Python's round would give 22)
    assert output_size(1, 1, 0.1) == (1, 1)


# ----------------------------------------------------------------------------- tiling
def test_receptive_radius_of_srresnet():
    assert receptive_radius(SRResNet(scale=4, num_blocks=16, channels=8)) == 40
    assert receptive_radius(SRResNet(scale=2, num_blocks=2, channels=8)) == 4 + 4 + 1 + 1 + 2  # 12


def test_receptive_radius_bounds_the_real_influence(model):
    """Change one input pixel: no output pixel farther than the radius may move."""
    radius, scale = receptive_radius(model), model.scale
    x = torch.rand(1, 3, 41, 41)
    y = x.clone()
    y[..., 20, 20] += 0.5
    with torch.no_grad():
        changed = (model(x) - model(y)).abs().amax(1)[0] > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    reach = max((rows // scale - 20).abs().max().item(), (cols // scale - 20).abs().max().item())
    assert radius - 2 <= reach <= radius  # tight, and never exceeded


@pytest.mark.parametrize("tile", [MIN_TILE, 23, 40])
def test_tiled_equals_untiled(tile):
    model = _random_srresnet(num_blocks=3, seed=3)
    x = torch.rand(1, 3, 45, 61)
    whole = SuperResolver(model, device="cpu", precision="fp32", tile=128)(x)
    sr = SuperResolver(model, device="cpu", precision="fp32", tile=tile)
    tiled = sr(x)
    assert sr.stats["tiles"] > 1
    assert (tiled - whole).abs().max() < 1e-3


def test_too_little_context_is_not_exact():
    """The exactness above comes from the pad, not from luck: without context, seams appear."""
    model = _random_srresnet(num_blocks=3, seed=3)
    x = torch.rand(1, 3, 45, 61)
    whole = SuperResolver(model, device="cpu", precision="fp32", tile=128)(x)
    assert (SuperResolver(model, device="cpu", precision="fp32", tile=MIN_TILE, tile_pad=0)(x) - whole).abs().max() > 1e-3


def test_tiled_apply_only_sends_tiles_to_fn():
    seen = []

    def fn(t):
        seen.append(tuple(t.shape[-2:]))
        return F.interpolate(t, scale_factor=3, mode="nearest")

    x = torch.rand(1, 3, 100, 70)
    out = tiled_apply(fn, x, scale=3, tile=32, pad=5, overlap=4)
    assert torch.equal(out, F.interpolate(x, scale_factor=3, mode="nearest")) or (
        (out - F.interpolate(x, scale_factor=3, mode="nearest")).abs().max() < 1e-6)
    assert len(seen) == 4 * 3 and max(h for h, _ in seen) <= 32 + 2 * (5 + 4)


def test_tile_below_minimum_is_refused(model):
    with pytest.raises(RestoreError, match="at least"):
        SuperResolver(model, device="cpu", precision="fp32", tile=MIN_TILE - 1)


# ----------------------------------------------------------------------------- robustness
class _Nearest(nn.Module):
    """A stand-in network (no convolutions, so receptive radius 0) with controllable failures."""

    scale, in_channels = 2, 3

    def __init__(self, oom_above: int | None = None, nan_in_half: bool = False):
        super().__init__()
        self.oom_above, self.nan_in_half = oom_above, nan_in_half
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        if self.oom_above and max(x.shape[-2:]) > self.oom_above:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        y = F.interpolate(x, scale_factor=2, mode="nearest") + self.dummy  # reach 0, like its radius
        if self.nan_in_half and torch.is_autocast_enabled(x.device.type):
            y = y.to(torch.bfloat16) * float("nan")
        return y


def test_out_of_memory_halves_the_tile_and_retries():
    x = torch.rand(1, 3, 100, 100)
    reference = SuperResolver(_Nearest(), device="cpu", precision="fp32")(x)
    sr = SuperResolver(_Nearest(oom_above=50), device="cpu", precision="fp32")
    out = sr(x)
    assert sr.stats["oom_retries"] == 2 and sr.stats["tile"] == 25  # 100 -> 50 (58-pixel windows) -> 25
    assert (out - reference).abs().max() < 1e-5
    with pytest.raises(RestoreError, match="out of memory"):
        SuperResolver(_Nearest(oom_above=20), device="cpu", precision="fp32")(x)


def test_default_precision_on_a_bf16_cpu_is_bf16_and_close_to_fp32(monkeypatch):
    """The default path on this project's CPUs: bf16 autocast, within 2 grey levels of fp32, tiled or not."""
    monkeypatch.setenv("RESTORE_CPU_BF16", "1")
    model = _random_srresnet(num_blocks=3, seed=3)
    x = torch.rand(1, 3, 45, 61)
    fast = SuperResolver(model, device="cpu")
    assert fast.dtype == torch.bfloat16
    exact = SuperResolver(model, device="cpu", precision="fp32")(x)
    for tile in (None, 23):
        fast.tile = tile
        diff = (fast(x) - exact).abs() * 255
        assert 0 < diff.max() < 2.0 and diff.mean() < 0.5
    monkeypatch.setenv("RESTORE_CPU_BF16", "0")
    assert SuperResolver(model, device="cpu").dtype == torch.float32


def test_half_precision_nan_tile_is_recomputed_in_fp32():
    x = torch.rand(1, 3, 30, 30)
    reference = SuperResolver(_Nearest(), device="cpu", precision="fp32")(x)
    sr = SuperResolver(_Nearest(nan_in_half=True), device="cpu", precision="bf16", tile=16)
    out = sr(x)
    assert sr.stats["fp32_retries"] == sr.stats["tiles"] == 4
    assert torch.isfinite(out).all() and (out - reference).abs().max() < 1e-5


# ----------------------------------------------------------------------------- weights
def test_from_pretrained_local_file_matches_model(tmp_path, model):
    from restore.weight_files import export_model

    path = export_model(tmp_path, "tiny-x2", model.state_dict(),
                        card={"arch": "srresnet", "config": model.config, "scale": 2})
    sr = SuperResolver.from_pretrained(path, device="cpu", precision="fp32")
    assert sr.scale == 2 and sr.name == "tiny-x2"
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert (sr(x) - model(x).clamp(0, 1)).abs().max() < 1e-4
    with pytest.raises(RestoreError, match="x2, not x4"):
        SuperResolver.from_pretrained(path, device="cpu", precision="fp32", scale=4)
    with pytest.raises(RestoreError, match="not found"):
        SuperResolver.from_pretrained(tmp_path / "nope.safetensors", device="cpu", precision="fp32")


def test_from_pretrained_default_is_the_srresnet_of_the_scale_never_the_srgan(tmp_path, monkeypatch):
    """`restore sr photo.png` must keep giving the PSNR-oriented SRResNet once an SRGAN of the same scale
    ships; the manifest's ``kind`` decides, not the name (sorted by name, "photo-gan-x4" comes first)."""
    import restore.registry as registry
    from restore.weight_files import export_model, read_card

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)

    def ship(name, scale, kind):
        net = _random_srresnet(scale=scale)
        path = export_model(tmp_path, name, net.state_dict(), card={"arch": "srresnet", "config": net.config})
        card = read_card(path)
        registry.register(registry.ModelEntry(name=name, task="sr", arch="srresnet", config=net.config,
                                              file=path.name, sha256=card["sha256"], scale=scale, kind=kind))

    ship("photo-gan-x4", 4, "srgan")
    assert SuperResolver.from_pretrained(device="cpu", scale=4).name == "photo-gan-x4"  # the only x4
    ship("srresnet-x2", 2, "srresnet")
    ship("srresnet-x4", 4, "srresnet")
    assert SuperResolver.from_pretrained(device="cpu", scale=4).name == "srresnet-x4"
    assert SuperResolver.from_pretrained(device="cpu").name == "srresnet-x4"  # x4 when no scale is asked
    assert SuperResolver.from_pretrained(device="cpu", scale=2).name == "srresnet-x2"
    assert SuperResolver.from_pretrained("photo-gan-x4", device="cpu").name == "photo-gan-x4"


def test_from_pretrained_without_shipped_weights_says_how(tmp_path, monkeypatch):
    import restore.registry

    monkeypatch.setattr(restore.registry, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(RestoreError, match="no super-resolution weights are shipped yet.*--model"):
        SuperResolver.from_pretrained(device="cpu", precision="fp32")


# ----------------------------------------------------------------------------- classical upscalers
@pytest.mark.parametrize("tile", [None, 16])
def test_bicubic_model_is_matlab_bicubic_tiled_or_not(tile):
    from restore.data.degradation import imresize

    x = torch.rand(1, 3, 37, 29)
    sr = SuperResolver.from_pretrained("bicubic", device="cpu", precision="fp32", scale=2, tile=tile)
    out = sr(x)
    assert sr.scale == 2 and out.shape == (1, 3, 74, 58)
    assert (out - imresize(x, 2).clamp(0, 1)).abs().max() < 1e-5  # tiling pads by the kernel's radius


def test_lanczos_model_matches_pillow():
    """Pillow's 8-bit Lanczos rounds and clips between its two passes; on a smooth image (little
    overshoot) that costs at most a couple of grey levels against restore's float path."""
    yy, xx = np.mgrid[0:20, 0:24]
    arr = np.stack([xx * 10, yy * 12, 128 + 60 * np.sin(xx / 3.0)], 2).astype(np.uint8)
    out = SuperResolver.from_pretrained("lanczos", device="cpu", precision="fp32")(Image.fromarray(arr))
    ref = np.asarray(Image.fromarray(arr).resize((96, 80), Image.Resampling.LANCZOS)).astype(int)
    assert out.size == (96, 80) and np.abs(np.asarray(out).astype(int) - ref).max() <= 2


def test_cli_bicubic_needs_no_weights(tmp_path, run_cli):
    Image.fromarray((np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    code, _, err = run_cli("sr", tmp_path / "a.png", "--model", "bicubic", "--device", "cpu")
    assert code == 0, err
    assert Image.open(tmp_path / "a_x4.png").size == (64, 64)
