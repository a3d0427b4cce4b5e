"""restore.io: every supported format and mode round-trips, metadata survives, bad input is one line."""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from restore.errors import ImageReadError, OutputExistsError
from restore.io import LoadedImage, expand_inputs, read_image, write_image


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("mode,channels,alpha", [("RGB", 3, False), ("RGBA", 3, True), ("L", 1, False),
                                                 ("LA", 1, True)])
@pytest.mark.parametrize("ext", [".png", ".tiff", ".webp", ".bmp"])
def test_lossless_round_trip_8bit(tmp_path, rgb_image, mode, channels, alpha, ext):
    if ext == ".bmp" and mode in ("LA", "RGBA"):
        pytest.skip("BMP holds no alpha")
    if ext == ".webp" and mode in ("L", "LA"):
        pytest.skip("WebP stores gray as colour")
    src = Image.fromarray(rgb_image).convert(mode)
    if alpha:  # a real alpha plane (encoders may drop an all-opaque one)
        src.putalpha(Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4 + 3, (48, 1))))
    path = tmp_path / f"in{ext}"
    src.save(path, **({"lossless": True} if ext == ".webp" else {}))
    img = read_image(path)
    assert img.tensor.shape == (1, channels, 48, 64)
    assert (img.alpha is not None) == alpha
    assert img.bit_depth == 8
    expected = np.asarray(src.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255
    got = img.tensor[0].permute(1, 2, 0).numpy().squeeze()
    np.testing.assert_allclose(got, expected.squeeze(), atol=1e-6)
    out = write_image(tmp_path / f"out{ext}", img, quality=100)  # WebP: quality 100 = lossless
    again = read_image(out)
    assert torch.equal(again.tensor, img.tensor)
    if alpha:
        assert torch.equal(again.alpha, img.alpha)


def test_palette_with_transparency_keeps_alpha(tmp_path, rgb_image):
    pal = Image.fromarray(rgb_image).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    img = read_image(tmp_path / "p.png")
    assert img.mode == "P" and img.tensor.shape[1] == 3 and img.alpha is not None
    assert float(img.alpha.min()) == 0.0 and float(img.alpha.max()) == 1.0


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_round_trip(tmp_path, channels):
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 65536, size=(20, 30, channels), dtype=np.uint16)
    bgr = arr[..., ::-1] if channels == 3 else (arr[..., [2, 1, 0, 3]] if channels == 4 else arr[..., 0])
    cv2.imwrite(str(tmp_path / "in.png"), np.ascontiguousarray(bgr))
    img = read_image(tmp_path / "in.png")
    assert img.bit_depth == 16
    colour = arr[..., :3] if channels == 4 else arr
    np.testing.assert_array_equal(np.round(img.tensor[0].permute(1, 2, 0).numpy() * 65535).astype(np.uint16),
                                  colour)
    assert (img.alpha is not None) == (channels == 4)
    out = write_image(tmp_path / "out.png", img)
    again = read_image(out)
    assert again.bit_depth == 16 and torch.equal(again.tensor, img.tensor)


def test_16bit_gray_tiff_and_pil_i16(tmp_path):
    arr = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)
    Image.fromarray(arr).save(tmp_path / "g.png")  # PIL writes I;16
    img = read_image(tmp_path / "g.png")
    assert img.bit_depth == 16 and img.is_gray
    np.testing.assert_array_equal(np.round(img.tensor[0, 0].numpy() * 65535).astype(np.uint16), arr)
    write_image(tmp_path / "g.tiff", img)
    again = read_image(tmp_path / "g.tiff")
    assert again.bit_depth == 16 and torch.equal(again.tensor, img.tensor)


def test_jpeg_reads_and_writes(tmp_path, rgb_image):
    Image.fromarray(rgb_image).save(tmp_path / "a.jpg", quality=95)
    img = read_image(tmp_path / "a.jpg")
    assert img.format == "JPEG" and img.tensor.shape == (1, 3, 48, 64)
    assert float((img.tensor - torch.from_numpy(rgb_image).permute(2, 0, 1)[None] / 255).abs().mean()) < 0.05
    write_image(tmp_path / "b.jpg", img)
    assert read_image(tmp_path / "b.jpg").tensor.shape == (1, 3, 48, 64)


def test_exif_orientation_is_applied(tmp_path, rgb_image):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the viewer rotates 90 degrees clockwise
    Image.fromarray(rgb_image).save(tmp_path / "o.jpg", exif=exif, quality=100, subsampling=0)
    img = read_image(tmp_path / "o.jpg")
    assert img.exif_orientation == 6
    assert img.tensor.shape == (1, 3, 64, 48)
    expected = np.rot90(rgb_image, k=-1).astype(np.float32) / 255
    assert np.abs(img.tensor[0].permute(1, 2, 0).numpy() - expected).mean() < 0.03


def test_exif_orientation_16bit_png(tmp_path):
    arr = np.arange(6 * 4, dtype=np.uint16).reshape(4, 6) * 1000
    pil = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 8
    pil.save(tmp_path / "o16.png", exif=exif)
    img = read_image(tmp_path / "o16.png")
    assert img.bit_depth == 16 and img.tensor.shape == (1, 1, 6, 4)
    np.testing.assert_array_equal(np.round(img.tensor[0, 0].numpy() * 65535).astype(np.uint16), np.rot90(arr, 1))


@pytest.mark.parametrize("bits", [8, 16])
def test_icc_profile_is_carried(tmp_path, rgb_image, bits):
    icc = _srgb_icc()
    Image.fromarray(rgb_image).save(tmp_path / "c.png", icc_profile=icc)
    img = read_image(tmp_path / "c.png")
    assert img.icc_profile == icc
    out = write_image(tmp_path / "out.png", img, bit_depth=bits)
    with Image.open(out) as written:
        assert written.info.get("icc_profile") == icc
    assert read_image(out).bit_depth == bits


def test_bad_inputs_give_one_line_naming_the_file(tmp_path, rgb_image):
    cases = {}
    cases["missing"] = tmp_path / "nope.png"
    (tmp_path / "empty.png").write_bytes(b"")
    cases["empty"] = tmp_path / "empty.png"
    (tmp_path / "text.png").write_text("hello, not an image")
    cases["not an image"] = tmp_path / "text.png"
    buf = io.BytesIO()
    Image.fromarray(rgb_image).save(buf, format="PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    cases["truncated"] = tmp_path / "trunc.png"
    Image.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "float.tiff")
    cases["mode"] = tmp_path / "float.tiff"
    cases["folder"] = tmp_path
    for what, path in cases.items():
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        msg = str(info.value)
        assert str(path) in msg and "\n" not in msg, what


def test_decompression_bomb_guard(tmp_path, rgb_image, monkeypatch):
    Image.fromarray(rgb_image).save(tmp_path / "a.png")
    with pytest.raises(ImageReadError, match="pixel limit"):
        read_image(tmp_path / "a.png", max_pixels=1000)
    monkeypatch.setenv("RESTORE_MAX_PIXELS", "100")
    with pytest.raises(ImageReadError, match="pixel limit"):
        read_image(tmp_path / "a.png")
    monkeypatch.setenv("RESTORE_MAX_PIXELS", "1e6")
    assert read_image(tmp_path / "a.png").size == (64, 48)


def test_write_is_atomic_and_never_overwrites(tmp_path, rgb_image):
    Image.fromarray(rgb_image).save(tmp_path / "in.png")
    img = read_image(tmp_path / "in.png")
    before = (tmp_path / "in.png").read_bytes()
    with pytest.raises(OutputExistsError, match="input"):
        write_image(tmp_path / "in.png", img, overwrite=True, protect=(tmp_path / "in.png",))
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_image(tmp_path / "in.png", img)
    assert (tmp_path / "in.png").read_bytes() == before
    source = torch.linspace(-0.5, 1.5, 48).view(1, 3, 4, 4)
    kept = source.clone()
    write_image(tmp_path / "out.png", source)
    assert torch.equal(source, kept)  # clamping and quantising never touch the caller's tensor
    assert (tmp_path / "out.png").stat().st_mode & 0o044  # readable by others, like any normal file
    write_image(tmp_path / "out.png", torch.ones(1, 3, 4, 4), overwrite=True)
    assert float(read_image(tmp_path / "out.png").tensor.min()) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]  # no temporary left over


def test_loaded_image_with_pixels_keeps_metadata():
    img = LoadedImage(torch.zeros(1, 1, 4, 4), bit_depth=16, mode="I;16", icc_profile=b"x")
    bigger = img.with_pixels(torch.zeros(1, 1, 8, 8))
    assert bigger.bit_depth == 16 and bigger.icc_profile == b"x" and bigger.size == (8, 8)


def test_expand_inputs(tmp_path, rgb_image):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(b"x")
    assert [p.name for p in expand_inputs([str(tmp_path)])] == ["a.jpg", "b.png"]
    assert [p.name for p in expand_inputs([str(tmp_path / "*.png"), str(tmp_path / "b.png")])] == ["b.png"]
    assert [p.name for p in expand_inputs([str(tmp_path)], recursive=True)] == ["a.jpg", "b.png", "c.png"]
    from restore.errors import RestoreError

    with pytest.raises(RestoreError, match="matches no files"):
        expand_inputs([str(tmp_path / "*.webp")])
    os.remove(tmp_path / "sub" / "c.png")
    with pytest.raises(RestoreError, match="no images"):
        expand_inputs([str(tmp_path / "sub")])
