"""Projection of real images onto a prior (iGAN): the search, the Projector, ``restore project``, ``interpolate --between``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from restore import archs
from restore.errors import RestoreError
from restore.inpainting import semantic
from restore.pipelines.projection import Projector, pixel_loss

CPU = dict(device="cpu", precision="fp32", lpips_weight=0)


@pytest.fixture(scope="module")
def tiny_gan():
    """A 1x32x32 DCGAN whose images depend visibly on z (a fresh DCGAN's are nearly constant):
    wider generator weights and BatchNorm statistics of its own samples, as after training."""
    torch.manual_seed(0)
    gan = archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8)
    with torch.no_grad():
        for m in gan.generator.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0, 0.1)
        gan.train()
        for _ in range(20):
            gan.generate(gan.sample_latent(64))
    return gan.eval()


class LinearVAE(nn.Module):
    """A VAE whose encoder inverts its decoder exactly on the decoder's range: ``decode(z) = sigmoid(Az + b)``."""

    def __init__(self, nz=8, channels=1, resolution=32):
        super().__init__()
        self.nz, self.channels, self.resolution = nz, channels, resolution
        g = torch.Generator().manual_seed(3)
        self.a = nn.Parameter(torch.randn(channels * resolution ** 2, nz, generator=g) * 0.5)
        self.b = nn.Parameter(torch.zeros(channels * resolution ** 2))

    def decode(self, z):
        return torch.sigmoid(z.float() @ self.a.T + self.b).view(-1, self.channels, self.resolution, self.resolution)

    generate = decode

    def encode(self, x):
        logits = torch.logit(x.flatten(1).clamp(1e-6, 1 - 1e-6)) - self.b
        mu = torch.linalg.lstsq(self.a, logits.T).solution.T
        return mu, torch.zeros_like(mu)

    def sample_latent(self, n, generator=None, device=None):
        return torch.randn(n, self.nz, generator=generator).to(device or self.a.device)


def reachable(gan, n=2, seed=5):
    z = gan.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return z, gan.generate(z)


# ----------------------------------------------------------------------------- the search
@pytest.mark.slow
def test_projection_of_a_generated_image_recovers_it(tiny_gan):
    z_true, x = reachable(tiny_gan)
    _, other = reachable(tiny_gan, seed=9)
    before = [p.clone() for p in tiny_gan.parameters()]
    projector = Projector(tiny_gan, steps=60, restarts=4, lr=0.05, **CPU)
    recon = projector(x)
    trace = projector.last_trace
    assert trace.shape == (2, 60)
    assert (trace[:, -1] < 0.05 * trace[:, 0]).all()  # much lower than at the start
    # close: far closer than another image of the prior, and the loss reported is the loss of the codes
    assert (recon - x).abs().mean() < 0.05 * (other - x).abs().mean()
    with torch.no_grad():
        again = pixel_loss(tiny_gan.generate(projector.last_codes), x)
    assert torch.allclose(again, projector.last_loss, atol=1e-5)
    assert projector.last_codes.abs().max() <= 1.0  # uniform prior: kept in [-1, 1]
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_gan.parameters()))  # networks untouched
    assert all(p.grad is None for p in tiny_gan.parameters())


@pytest.mark.slow
def test_more_restarts_never_end_worse(tiny_gan):
    targets = torch.rand(3, 1, 32, 32)
    one = Projector(tiny_gan, steps=15, restarts=1, seed=4, **CPU)
    one(targets)
    many = Projector(tiny_gan, steps=15, restarts=5, seed=4, **CPU)
    many(targets)
    assert (many.last_loss <= one.last_loss * (1 + 1e-4)).all()  # (up to batched float rounding)
    # restart 0 starts from the same code whatever the number of restarts
    starts = semantic._start_codes(tiny_gan.sample_latent, 3, 5, 4, "cpu", restart_major=True)
    assert torch.equal(starts[:, 0], semantic._start_codes(tiny_gan.sample_latent, 3, 1, 4, "cpu",
                                                           restart_major=True)[:, 0])


def test_encoder_init_starts_lower_than_random():
    vae = LinearVAE()
    _, x = reachable(vae, n=3)
    start = {}
    for init in ("random", "encoder"):
        projector = Projector(vae, steps=0, restarts=4, init=init, **CPU)
        projector(x)
        start[init] = projector.last_loss
    assert (start["encoder"] < 0.1 * start["random"]).all()
    # and the encoder start is the better one after a few steps too
    runs = {init: Projector(vae, steps=5, restarts=2, init=init, lr=0.01, **CPU) for init in ("random", "encoder")}
    for p in runs.values():
        p(x)
    assert (runs["encoder"].last_loss < runs["random"].last_loss).all()


@pytest.mark.parametrize("vae_nz", [16, 8])
def test_encoder_init_over_a_gan_runs_for_both_latent_sizes(tiny_gan, vae_nz):
    torch.manual_seed(1)
    vae = archs.build("vae", resolution=32, channels=1, nz=vae_nz, width=8)
    projector = Projector(tiny_gan, vae=vae, steps=4, restarts=2, init="encoder", **CPU)
    out = projector(torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 1, 32, 32) and projector.last_codes.shape == (2, 16)
    assert projector.last_codes.abs().max() <= 1.0
    with pytest.raises(RestoreError, match="needs a VAE"):
        Projector(tiny_gan, init="encoder", **CPU)


def test_mse_loss_and_bad_settings(tiny_gan):
    _, x = reachable(tiny_gan, n=1)
    projector = Projector(tiny_gan, steps=3, restarts=2, pixel="mse", **CPU)
    projector(x)
    with torch.no_grad():
        expected = (2 * (tiny_gan.generate(projector.last_codes) - x)).square().mean()
    assert torch.allclose(projector.last_loss, expected[None], atol=1e-6)
    for bad in (dict(init="sideways"), dict(pixel="l3"), dict(lpips_weight=-1), dict(restarts=0)):
        with pytest.raises(RestoreError):
            Projector(tiny_gan, **{**CPU, **bad})


# ----------------------------------------------------------------------------- types in and out
def test_output_type_and_shape_follow_the_input(tiny_gan, rgb_image):
    projector = Projector(tiny_gan, steps=2, restarts=1, **CPU)
    pil = projector(Image.fromarray(rgb_image))  # 48x64 RGB, any size
    assert isinstance(pil, Image.Image) and pil.size == (32, 32) and pil.mode == "RGB"
    rgba = projector(Image.fromarray(np.dstack([rgb_image, np.full(rgb_image.shape[:2], 200, np.uint8)])))
    assert rgba.mode == "RGBA" and np.allclose(np.asarray(rgba)[..., 3], 200, atol=1)
    gray = projector(rgb_image[..., 0])
    assert gray.dtype == np.uint8 and gray.shape == (32, 32)
    colour = projector(rgb_image)
    assert colour.dtype == np.uint8 and colour.shape == (32, 32, 3)
    t = projector(torch.rand(3, 20, 24, dtype=torch.float64))
    assert t.dtype == torch.float64 and t.shape == (3, 32, 32)
    batch = projector(torch.rand(2, 1, 32, 32))
    assert batch.shape == (2, 1, 32, 32) and projector.last_codes.shape == (2, 16)
    # an RGB image over a gray prior comes back gray-in-RGB: the reconstruction of its luma, replicated
    assert np.array_equal(colour[..., 0], colour[..., 2])


# ----------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def tiny_gan_file(tmp_path_factory, tiny_gan):
    from restore.weight_files import export_model

    folder = tmp_path_factory.mktemp("weights")
    return export_model(folder, "tiny-dcgan", tiny_gan.state_dict(),
                        {"arch": "dcgan", "config": tiny_gan.config, "resolution": [1, 32, 32]})


FAST = ("--steps", "3", "--restarts", "2", "--lpips-weight", "0", "--device", "cpu", "--precision", "fp32")


def test_project_writes_refuses_to_overwrite_and_saves_codes(run_cli, tiny_gan_file, tmp_path, rgb_image):
    from safetensors.torch import load_file

    src = tmp_path / "photo.png"
    Image.fromarray(rgb_image).save(src)
    before = src.read_bytes()
    out, codes = tmp_path / "recon.png", tmp_path / "z.safetensors"
    code, stdout, err = run_cli("project", src, "-o", out, "--model", tiny_gan_file, *FAST, "--codes", codes)
    assert code == 0, err
    assert Image.open(out).size == (32, 32) and Image.open(out).mode == "RGB"
    assert load_file(str(codes))["codes"].shape == (1, 16)
    assert "recon.png" in stdout and src.read_bytes() == before
    written = out.read_bytes()
    code, _, err = run_cli("project", src, "-o", out, "--model", tiny_gan_file, *FAST)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == written
    code, _, err = run_cli("project", src, "-o", out, "--model", tiny_gan_file, *FAST, "--seed", "1", "--overwrite")
    assert code == 0, err
    code, _, err = run_cli("project", src, "-o", src, "--model", tiny_gan_file, *FAST, "--overwrite")
    assert code == 2 and "input" in err and src.read_bytes() == before


@pytest.mark.parametrize("args, needle", [
    (("missing.png", "-o", "x.png"), "no such file"),
    (("photo.png", "-o", "x.txt"), "unknown output extension"),
    (("photo.png", "-o", "x.png", "--steps", "-1"), "must be >= 0"),
    (("photo.png", "-o", "x.png", "--lpips-weight", "nan"), "finite"),
    (("photo.png", "-o", "x.png", "--init", "sideways"), "invalid choice"),
])
def test_project_errors_are_one_line(run_cli, tiny_gan_file, tmp_path, rgb_image, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(rgb_image).save("photo.png")
    code, _, err = run_cli("project", *args, "--model", tiny_gan_file)
    assert code == 2
    assert err.startswith("restore: error:") and len(err.strip().splitlines()) == 1 and needle in err


def test_interpolate_between_writes_one_row(run_cli, tiny_gan_file, tmp_path, rgb_image):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(rgb_image).save(a)
    Image.fromarray(rgb_image[:40, :40, 0]).save(b)  # another size, gray
    out = tmp_path / "morph.png"
    code, stdout, err = run_cli("interpolate", tiny_gan_file, "--between", a, b, "-o", out, "--steps-between", "4",
                                "--project-steps", "3", "--restarts", "2", "--lpips-weight", "0",
                                "--device", "cpu", "--precision", "fp32")
    assert code == 0, err
    grid = np.asarray(Image.open(out).convert("L"))
    assert grid.shape == (32 + 4, 6 * (32 + 2) + 2)  # A, 4 decoded images, B; padding 2
    # the ends are the inputs resized to the prior's resolution (gray prior: their luma)
    from restore.data.degradation import resize
    from restore.io import read_image

    expected = resize(read_image(b).tensor, 32, "bicubic")
    assert np.abs(grid[2:34, -34:-2].astype(int) - np.round(expected[0, 0].numpy() * 255)).max() <= 2
    code, _, err = run_cli("interpolate", tiny_gan_file, "--between", a, b, "-o", out)
    assert code == 2 and "already exists" in err
    code, _, err = run_cli("interpolate", tiny_gan_file, "--between", a, tmp_path / "nope.png", "-o", tmp_path / "m2.png")
    assert code == 2 and "no such file" in err and len(err.strip().splitlines()) == 1
    # without --between the random walk is unchanged, and projection flags are refused
    code, _, err = run_cli("interpolate", tiny_gan_file, "-o", tmp_path / "walk.png", "--steps", "5", "--rows", "2",
                           "--device", "cpu")
    assert code == 0, err
    assert Image.open(tmp_path / "walk.png").size == (5 * 34 + 2, 2 * 34 + 2)
    code, _, err = run_cli("interpolate", tiny_gan_file, "-o", tmp_path / "w2.png", "--restarts", "3")
    assert code == 2 and "--between" in err
    code, _, err = run_cli("interpolate", tiny_gan_file, "--between", a, b, "-o", tmp_path / "w3.png", "--steps", "5")
    assert code == 2 and "--steps-between" in err


def test_shipped_faces_prior_smoke(run_cli, tmp_path, rgb_image):
    from restore.registry import list_models

    if "faces64-dcgan" not in {e.name for e in list_models("gan")}:
        pytest.skip("faces64-dcgan is not shipped")
    src = tmp_path / "face.png"
    Image.fromarray(rgb_image).save(src)
    code, _, err = run_cli("project", src, "-o", tmp_path / "recon.png", "--model", "faces64-dcgan",
                           "--steps", "2", "--restarts", "1", "--lpips-weight", "0", "--device", "cpu")
    assert code == 0, err
    assert Image.open(tmp_path / "recon.png").size == (64, 64)
