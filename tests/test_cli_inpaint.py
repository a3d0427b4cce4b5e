"""``restore inpaint``: outputs, mask conventions on disk, traces and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from restore import archs
from restore.weight_files import export_model


@pytest.fixture(scope="module")
def tiny_gan_file(tmp_path_factory):
    """A random-weight 1x32x32 DCGAN exported like a trained one (safetensors + card)."""
    torch.manual_seed(0)
    model = archs.build("dcgan", resolution=32, channels=1, nz=16, g_width=8, d_width=8)
    folder = tmp_path_factory.mktemp("weights")
    return export_model(folder, "tiny-dcgan", model.state_dict(),
                        {"arch": "dcgan", "config": model.config, "resolution": [1, 32, 32]})


@pytest.fixture
def files(tmp_path, rgb_image):
    image = tmp_path / "photo.png"
    Image.fromarray(rgb_image).save(image)
    mask = np.zeros(rgb_image.shape[:2], np.uint8)
    mask[12:28, 20:44] = 255
    mask_path = tmp_path / "hole.png"
    Image.fromarray(mask).save(mask_path)
    return image, mask_path, mask


def test_gan_inpaint_writes_output_and_trace(run_cli, files, tiny_gan_file, tmp_path):
    image, mask_path, mask = files
    before = image.read_bytes()
    code, _, err = run_cli("inpaint", image, "--mask", mask_path, "--model", tiny_gan_file, "--steps", "3",
                           "--restarts", "2", "-o", tmp_path / "out", "--save-trace", "--device", "cpu")
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "out" / "photo_inpainted.png"))
    original = np.asarray(Image.open(image))
    assert out.shape == original.shape
    assert np.array_equal(out[mask == 0], original[mask == 0])
    assert image.read_bytes() == before
    trace = json.loads((tmp_path / "out" / "photo_inpainted.trace.json").read_text())
    assert len(trace["trace"]["total"]) == 3 and trace["crop"]["size"] >= 24
    crop = trace["crop"]  # the crop used is reported, its size WxH and its corner as x, then y
    assert f"crop {crop['size']}x{crop['size']} at x={crop['left']}, y={crop['top']}, back by" in err


def test_rgba_mask_of_another_size_and_mask_folder(run_cli, files, tmp_path):
    image, _, _ = files
    small = np.zeros((24, 32, 4), np.uint8)  # half size, strokes on a transparent layer
    small[6:14, 10:22] = 255
    (tmp_path / "masks").mkdir()
    Image.fromarray(small, "RGBA").save(tmp_path / "masks" / "photo.png")
    code, _, err = run_cli("inpaint", image, "--mask", tmp_path / "masks", "--method", "telea",
                           "-o", tmp_path / "filled.png")
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "filled.png")).astype(int)
    original = np.asarray(Image.open(image)).astype(int)
    changed = np.any(out != original, axis=2)
    assert not changed[:12].any() and not changed[28:].any()  # only the (resized) hole may change
    assert changed[12:28, 20:44].mean() > 0.5


@pytest.mark.parametrize("mask_kind, message", [
    ("empty", "mask is empty"),
    ("full", "covers the whole image"),
    ("broken", "unreadable mask"),
])
def test_mask_errors_are_one_line(run_cli, files, tmp_path, mask_kind, message):
    image, _, _ = files
    bad = tmp_path / f"{mask_kind}.png"
    if mask_kind == "broken":
        bad.write_bytes(b"\x89PNG truncated")
    else:
        Image.fromarray(np.full((48, 64), 0 if mask_kind == "empty" else 255, np.uint8)).save(bad)
    code, _, err = run_cli("inpaint", image, "--mask", bad, "--method", "ns", "-o", tmp_path / "o")
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("restore: error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err


def test_unknown_model_lists_available_and_input_never_overwritten(run_cli, files, tmp_path):
    image, mask_path, _ = files
    code, _, err = run_cli("inpaint", image, "--mask", mask_path, "--model", "no-such-prior")
    assert code == 2 and "no-such-prior" in err and "available" in err
    code, _, err = run_cli("inpaint", image, "--mask", mask_path, "--method", "telea", "-o", image, "--overwrite")
    assert code == 2 and "input" in err
    code, _, err = run_cli("inpaint", image, "--mask", tmp_path / "missing.png", "--method", "telea")
    assert code == 2 and "not found" in err


def test_mask_of_another_aspect_ratio_is_one_line_before_the_model_loads(run_cli, files, tmp_path, monkeypatch):
    from restore.pipelines.inpainting import Inpainter

    def never(*args, **kwargs):
        raise AssertionError("the prior was loaded")

    monkeypatch.setattr(Inpainter, "from_pretrained", never)
    image, _, _ = files  # 64x48
    square = tmp_path / "square.png"
    Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 12)).save(square)  # 32x32
    code, _, err = run_cli("inpaint", image, "--mask", square, "--method", "telea")
    assert code == 2
    assert err.strip() == (f"restore: error: {square}: the mask is 32x32 but the image is 64x48: another aspect "
                           "ratio, so resizing it would stretch and move the hole; give a mask of the image's shape")
    assert not (tmp_path / "photo_inpainted.png").exists()


def test_mask_of_another_aspect_ratio_in_a_batch_fails_that_image_only(run_cli, tmp_path, rgb_image):
    Image.fromarray(rgb_image).save(tmp_path / "a.png")  # 64x48
    Image.fromarray(rgb_image[:32, :32]).save(tmp_path / "b.png")  # 32x32
    square = tmp_path / "square.png"
    Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 12)).save(square)
    code, _, err = run_cli("inpaint", tmp_path / "a.png", tmp_path / "b.png", "--mask", square,
                           "--method", "telea", "-o", tmp_path / "out")
    assert code == 1 and err.count("restore: error:") == 1 and "the mask is 32x32 but the image is 64x48" in err
    assert (tmp_path / "out" / "b_inpainted.png").exists() and not (tmp_path / "out" / "a_inpainted.png").exists()


def test_mask_of_the_same_shape_but_another_size_is_resized_with_a_note(run_cli, files, tmp_path):
    image, _, mask = files  # 64x48
    half = tmp_path / "half.png"
    Image.fromarray(mask[::2, ::2]).save(half)  # 32x24
    code, _, err = run_cli("inpaint", image, "--mask", half, "--method", "telea")
    assert code == 0, err
    assert err.count(f"restore inpaint: {half}: mask 32x24 resized to 64x48 (nearest)") == 1
    assert (tmp_path / "photo_inpainted.png").exists()


def test_images_at_prior_size_are_batched(run_cli, tiny_gan_file, tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    Image.fromarray(mask).save(tmp_path / "m.bmp")
    code, _, err = run_cli("inpaint", tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png", "--mask",
                           tmp_path / "m.bmp", "--model", tiny_gan_file, "--steps", "2", "--restarts", "2",
                           "--batch", "2", "-o", tmp_path / "out", "--device", "cpu")
    assert code == 0, err
    assert err.count("batch of 2") == 2 and err.count("whole image") == 3
    for name in ("a", "b", "c"):
        out = np.asarray(Image.open(tmp_path / "out" / f"{name}_inpainted.png"))
        original = np.asarray(Image.open(tmp_path / f"{name}.png"))
        assert np.array_equal(out[mask == 0], original[mask == 0])
