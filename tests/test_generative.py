"""DCGAN / VAE priors: shapes, learning, determinism, resume, encoder, export, data, FAD-Alex, CLI."""

from __future__ import annotations

import gzip
import json
import math
import struct

import numpy as np
import pytest
import torch

from restore.archs.dcgan import DCGAN
from restore.archs.vae import VAE
from restore.data.generative import load_fashion_mnist, load_generative_data, read_idx
from restore.errors import RestoreError
from restore.losses.generative import discretized_gaussian_nll, gaussian_kl, heldout_elbo
from restore.metrics.frechet import alexnet_features, frechet_distance
from restore.pipelines.sampling import Sampler, interpolate_latents
from restore.training.engine import load_recipe
from restore.training.generative import _DCGANStep, _VAEStep, train
from restore.training.engine import Distributed

CPU = torch.device("cpu")


def _shapes(n: int, seed: int = 0) -> torch.Tensor:
    """n synthetic 32x32 gray images on 8-bit levels: bright rectangles of random size and place."""
    g = torch.Generator().manual_seed(seed)
    imgs = torch.zeros(n, 1, 32, 32)
    for i in range(n):
        x0, y0 = torch.randint(2, 14, (2,), generator=g).tolist()
        w, h = torch.randint(8, 16, (2,), generator=g).tolist()
        imgs[i, :, y0:y0 + h, x0:x0 + w] = torch.randint(128, 256, (1,), generator=g).item() / 255
    return imgs


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from restore.io import write_image

    folder = tmp_path_factory.mktemp("shapes")
    for i, img in enumerate(_shapes(40)):
        write_image(folder / f"{i:03d}.png", img[None])
    return folder


# ----------------------------------------------------------------------------- architectures
@pytest.mark.parametrize("resolution,channels", [(32, 1), (64, 3)])
def test_dcgan_shapes_and_ranges(resolution, channels):
    gan = DCGAN(resolution=resolution, channels=channels, nz=20, g_width=8, d_width=8, prior="gaussian")
    z = gan.sample_latent(3)
    assert z.shape == (3, 20)
    x = gan.generate(z)
    assert x.shape == (3, channels, resolution, resolution) and x.min() >= 0 and x.max() <= 1
    assert gan.generator(z).min() >= -1  # tanh output in [-1, 1]
    assert gan.discriminate(x).shape == (3,)
    logits, feats = gan.discriminator(x * 2 - 1, return_features=True)
    assert logits.shape == (3,) and feats.shape[0] == 3 and feats.ndim == 2
    assert torch.allclose(logits, gan.discriminate(x))
    # DCGAN init: conv weights ~ N(0, 0.02)
    assert abs(float(gan.generator.net[0].weight.detach().std()) - 0.02) < 0.003
    # the first discriminator layer has no BatchNorm (Radford et al.)
    assert not isinstance(gan.discriminator.features[1], torch.nn.BatchNorm2d)


def test_dcgan_uniform_prior_range_and_bad_config():
    gan = DCGAN(resolution=32, channels=1, g_width=8, d_width=8)
    z = gan.sample_latent(1000)
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.9
    with pytest.raises(ValueError):
        DCGAN(resolution=48)
    with pytest.raises(ValueError):
        DCGAN(prior="cauchy")


@pytest.mark.parametrize("resolution,channels", [(32, 1), (64, 3)])
def test_vae_shapes(resolution, channels):
    vae = VAE(resolution=resolution, channels=channels, nz=12, width=8)
    x = torch.rand(2, channels, resolution, resolution)
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape and recon.min() >= 0 and recon.max() <= 1
    assert mu.shape == logvar.shape == (2, 12)
    assert vae.decode(vae.sample_latent(5)).shape == (5, channels, resolution, resolution)


def test_encoder_mu_matches_forward_pass():
    torch.manual_seed(0)
    vae = VAE(resolution=32, channels=1, nz=8, width=8)
    x = _shapes(6)
    _VAEStep(vae, {"beta": 1.0, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999}, Distributed())(x, 0, CPU)  # BN stats move
    vae.eval()
    mu, logvar = vae.encode(x)
    recon, mu_full, logvar_full = vae(x)
    assert torch.allclose(mu, mu_full) and torch.allclose(logvar, logvar_full)
    assert torch.allclose(recon, vae.decode(mu))  # eval mode decodes the mean
    mu_part, _ = vae.encode(x[:2])  # a batch of 2 encodes as inside the batch of 6
    assert torch.allclose(mu_part, mu[:2], atol=1e-5)


# ----------------------------------------------------------------------------- losses
def test_discretized_gaussian_is_a_distribution():
    levels = torch.arange(256).float().div(255).view(256, 1, 1, 1)
    for mean in (0.0, 0.37, 1.0):
        for log_scale in (-5.0, -2.0):
            nats = discretized_gaussian_nll(levels, torch.full_like(levels, mean), torch.tensor([log_scale]))
            assert math.isclose(float(torch.exp(-nats).sum()), 1.0, abs_tol=1e-4)


def test_gaussian_kl_closed_form():
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    # 0.5 * (1 + 0 - 1 - 0) + 0.5 * (0 + 4 - 1 - ln 4)
    assert math.isclose(float(gaussian_kl(mu, logvar)), 0.5 + 0.5 * (3 - math.log(4)), rel_tol=1e-6)


# ----------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_vae_steps_lower_the_loss():
    torch.manual_seed(0)
    vae = VAE(resolution=32, channels=1, nz=8, width=8)
    x = _shapes(32)
    before = heldout_elbo(vae, x)["neg_elbo_nats"]
    step = _VAEStep(vae, {"beta": 1.0, "lr": 3e-3, "beta1": 0.9, "beta2": 0.999}, Distributed())
    for i in range(30):
        vae.train()
        step(x, i, CPU)
    after = heldout_elbo(vae, x)
    assert after["neg_elbo_nats"] < 0.7 * before
    assert after["bits_per_dim"] == pytest.approx(after["neg_elbo_nats"] / (1024 * math.log(2)))


@pytest.mark.slow
def test_dcgan_steps_lower_the_losses():
    torch.manual_seed(0)
    gan = DCGAN(resolution=32, channels=1, nz=16, g_width=8, d_width=8)
    real = _shapes(32)
    step = _DCGANStep(gan, {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999}, Distributed())
    d_losses = [float(step(real, i, CPU)["d_loss"]) for i in range(15)]
    assert np.mean(d_losses[-3:]) < np.mean(d_losses[:3])  # D learns to tell the two apart
    # with D frozen, generator updates alone lower the non-saturating generator loss
    z = gan.sample_latent(32, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(gan.generator.parameters(), 2e-3, betas=(0.5, 0.999))
    gan.discriminator.eval().requires_grad_(False)

    def g_loss():
        return torch.nn.functional.softplus(-gan.discriminator(gan.generator(z))).mean()

    first = float(g_loss().detach())
    for _ in range(10):
        opt.zero_grad()
        g_loss().backward()
        opt.step()
    assert float(g_loss().detach()) < first


# ----------------------------------------------------------------------------- sampling
def test_sampling_is_deterministic_with_a_seed():
    sampler = Sampler(DCGAN(resolution=32, channels=1, g_width=8, d_width=8))
    a, b, c = sampler.sample(4, seed=3), sampler.sample(4, seed=3), sampler.sample(4, seed=4)
    assert a.shape == (4, 1, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    strip = sampler.interpolate(rows=2, steps=5, seed=0)
    assert strip.shape == (10, 1, 32, 32)
    with pytest.raises(RestoreError):
        sampler.encode(a)  # a GAN has no encoder


def test_interpolation_endpoints():
    z0, z1 = torch.randn(3, 10), torch.randn(3, 10)
    for spherical in (True, False):
        path = interpolate_latents(z0, z1, 6, spherical=spherical)
        assert path.shape == (3, 6, 10)
        assert torch.allclose(path[:, 0], z0, atol=1e-5) and torch.allclose(path[:, -1], z1, atol=1e-5)


# ----------------------------------------------------------------------------- training, resume, export
def _recipe(image_folder, arch, **extra):
    base = {"data": str(image_folder), "holdout": 8, "resolution": 32, "channels": 1, "nz": 8,
            "batch_size": 8, "grid_size": 4, "checkpoint_every": 1000, "log_every": 1, "fp16_export": False}
    base.update({"g_width": 8, "d_width": 8} if arch == "dcgan" else {"width": 8})
    base.update(extra)
    return load_recipe(f"{arch}_fashion32", base)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["dcgan", "vae"])
def test_resume_equals_uninterrupted(tmp_path, image_folder, arch):
    straight = train(_recipe(image_folder, arch, epochs=2), tmp_path / "a")
    # interrupted mid-epoch (after 3 of 4 steps), then resumed to the end
    train(_recipe(image_folder, arch, epochs=2, max_steps=3), tmp_path / "b")
    resumed = train(_recipe(image_folder, arch, epochs=2), tmp_path / "b", resume=True)
    assert straight["steps"] == resumed["steps"] == 8
    from restore.weight_files import load_safetensors
    a, b = load_safetensors(straight["weights"]), load_safetensors(resumed["weights"])
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    run = tmp_path / "a"
    assert (run / "samples" / "epoch_000.png").is_file() and (run / "samples" / "epoch_001.png").is_file()
    assert (run / "interpolation.png").is_file()
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("step" in r and r.get("step") == 8 for r in log)
    card = json.loads((run / "a.json").read_text())
    assert card["arch"] == arch and card["resolution"] == [1, 32, 32] and card["steps"] == 8
    if arch == "vae":
        assert card["heldout_elbo"]["images"] == 8 and card["heldout_elbo"]["bits_per_dim"] > 0


def test_resume_refuses_a_different_model(tmp_path, image_folder):
    train(_recipe(image_folder, "vae", epochs=1, max_steps=1), tmp_path / "r")
    with pytest.raises(RestoreError):
        train(_recipe(image_folder, "vae", epochs=1, width=16), tmp_path / "r", resume=True)


def test_export_registry_round_trip(tmp_path):
    from restore.registry import ModelEntry, list_models, load_model, register
    from restore.weight_files import export_model

    vae = VAE(resolution=32, channels=1, nz=8, width=8).eval()
    path = export_model(tmp_path, "tiny-vae", vae.state_dict(),
                        {"arch": "vae", "config": vae.config, "resolution": [1, 32, 32]})
    card = json.loads(path.with_suffix(".json").read_text())
    register(ModelEntry(name="tiny-vae", task="vae", arch="vae", config=vae.config, file=path.name,
                        sha256=card["sha256"], resolution=[1, 32, 32], card="tiny-vae.json"), weights_dir=tmp_path)
    assert [e.name for e in list_models("vae", weights_dir=tmp_path)] == ["tiny-vae"]
    loaded, info = load_model(path)
    assert info["arch"] == "vae"
    sampler = Sampler.from_pretrained(path)
    assert torch.equal(sampler.sample(3, seed=5), Sampler(vae).sample(3, seed=5))
    x = torch.rand(2, 1, 32, 32)
    mu, _ = sampler.encode(x)
    assert torch.allclose(mu, vae.encode(x)[0])
    with pytest.raises(RestoreError):
        sampler.encode(torch.rand(2, 3, 32, 32))


def test_cli_sample_and_interpolate(tmp_path):
    from restore.cli.main import main
    from restore.io import read_image
    from restore.weight_files import export_model

    gan = DCGAN(resolution=32, channels=1, nz=8, g_width=8, d_width=8)
    weights = export_model(tmp_path, "g", gan.state_dict(), {"arch": "dcgan", "config": gan.config})
    assert main(["sample", str(weights), "-n", "16", "-o", str(tmp_path / "grid.png"), "--device", "cpu"]) == 0
    grid = read_image(tmp_path / "grid.png")
    assert grid.tensor.shape[-1] == 4 * 32 + 5 * 2  # 4 images a row, 2-pixel padding
    assert main(["sample", str(weights), "-n", "4", "-o", str(tmp_path / "grid.png")]) == 2  # no overwrite
    assert main(["sample", "no-such-model", "-o", str(tmp_path / "x.png")]) == 2
    assert main(["interpolate", str(weights), "-o", str(tmp_path / "s.png"), "--steps", "6", "--rows", "2"]) == 0
    assert read_image(tmp_path / "s.png").tensor.shape[-1] == 6 * 32 + 7 * 2


# ----------------------------------------------------------------------------- data
def _write_idx(path, array: np.ndarray):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_reader_and_padding(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(5))
    assert np.array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), imgs)
    ds, labels = load_fashion_mnist("train", tmp_path, resolution=32, with_labels=True)
    assert len(ds) == 5 and labels.tolist() == [0, 1, 2, 3, 4]
    x = ds.batch(slice(None))
    assert x.shape == (5, 1, 32, 32)
    assert torch.equal(x[:, 0, 2:30, 2:30] * 255, torch.from_numpy(imgs).float())  # exact 8-bit values
    assert x[:, :, :2].abs().sum() == 0  # zero padding
    same = load_generative_data(str(tmp_path), resolution=32, channels=1)
    assert torch.equal(same.images, ds.images)
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(b"\x00\x01junk")
    with pytest.raises(RestoreError):
        read_idx(tmp_path / "bad-images-idx3-ubyte")


def test_image_folder_split_crop_and_resize(tmp_path):
    from restore.io import write_image

    for i in range(5):  # 40x60 images: centre crop to 40x40, then resize to 32
        img = torch.zeros(1, 3, 60, 40)
        img[:, :, 10:50] = i / 10
        write_image(tmp_path / f"{i}.png", img)
    train_set = load_generative_data(tmp_path, resolution=32, channels=3, split="train", holdout=2)
    held = load_generative_data(tmp_path, resolution=32, channels=3, split="heldout", holdout=2)
    assert train_set.images.shape == (3, 3, 32, 32) and held.images.shape == (2, 3, 32, 32)
    assert torch.allclose(held.batch(slice(None))[1], torch.full((3, 32, 32), 0.4), atol=1 / 255)
    with pytest.raises(RestoreError):
        load_generative_data(tmp_path, resolution=32, channels=3, holdout=5)
    with pytest.raises(RestoreError):
        load_generative_data(tmp_path / "missing", resolution=32, channels=3)


# ----------------------------------------------------------------------------- FAD-Alex
def test_frechet_distance_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    a, b = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # diagonal covariances
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-6)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))  # same rotation of both: the distance is unchanged
    assert frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T) == pytest.approx(expected, rel=1e-5)
    s = np.cov(rng.normal(size=(50, 4)), rowvar=False)
    assert abs(frechet_distance(mu1, s, mu1, s)) < 1e-6


def test_alexnet_features_tell_sets_apart():
    real = _shapes(40, seed=1)
    same = _shapes(40, seed=2)
    noise = torch.rand(40, 1, 32, 32)
    f_real, f_same, f_noise = (alexnet_features(x, size=64) for x in (real, same, noise))
    assert f_real.shape == (40, 256)
    close = np.sum((f_real.mean(0) - f_same.mean(0)) ** 2)
    far = np.sum((f_real.mean(0) - f_noise.mean(0)) ** 2)
    assert far > 5 * close
