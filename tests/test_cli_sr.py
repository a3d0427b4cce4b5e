"""`restore sr` end to end on tiny files with a tiny random-weight SRResNet (x2), in process."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import restore.registry as registry
from restore.archs.srresnet import SRResNet
from restore.cli.main import main
from restore.cli.sr import shard_files
from restore.outputs import plan_outputs
from restore.errors import RestoreError
from restore.io import read_image
from restore.weight_files import export_model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = SRResNet(scale=2, num_blocks=1, channels=8).eval()
    folder = tmp_path_factory.mktemp("weights")
    return str(export_model(folder, "tiny-x2", model.state_dict(),
                            card={"arch": "srresnet", "config": model.config, "scale": 2}))


def _photo(path, size=(24, 16), mode="RGB", **save):
    rng = np.random.default_rng(0)
    arr = (rng.random((size[1], size[0], 4)) * 255).astype(np.uint8)
    Image.fromarray(arr, "RGBA").convert(mode).save(path, **save)
    return path


def sr(*args) -> int:
    return main(["sr", *map(str, args), "--device", "cpu"])


def test_writes_next_to_input_with_the_documented_name(tmp_path, weights):
    src = _photo(tmp_path / "cat.jpg")
    assert sr(src, "--model", weights) == 0
    out = Image.open(tmp_path / "cat_x2.jpg")
    assert out.size == (48, 32) and out.format == "JPEG"
    assert sr(src, "--model", weights, "--outscale", 3, "--ext", "png", "--suffix", "_big") == 0
    assert Image.open(tmp_path / "cat_big.png").size == (72, 48)


def test_folder_and_glob_inputs_into_output_folder(tmp_path, weights):
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png"):
        _photo(tmp_path / "in" / name)
    _photo(tmp_path / "c.webp", size=(10, 10))
    assert sr(tmp_path / "in", str(tmp_path / "*.webp"), "-o", tmp_path / "out", "--model", weights,
              "--outscale", 1.5) == 0
    made = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert made == ["a_x1.5.png", "b_x1.5.png", "c_x1.5.webp"]
    assert Image.open(tmp_path / "out" / "a_x1.5.png").size == (36, 24)
    assert Image.open(tmp_path / "out" / "c_x1.5.webp").size == (15, 15)


def test_single_output_file(tmp_path, weights):
    src = _photo(tmp_path / "in.png")
    assert sr(src, "-o", tmp_path / "exact.webp", "--model", weights) == 0
    assert Image.open(tmp_path / "exact.webp").size == (48, 32)


def test_never_overwrites_without_flag(tmp_path, weights, capsys):
    src = _photo(tmp_path / "in.png")
    dst = tmp_path / "in_x2.png"
    dst.write_bytes(b"precious")
    assert sr(src, "--model", weights) == 2  # one input, refused: a mistake in what was given
    assert dst.read_bytes() == b"precious"
    assert "already exists (pass --overwrite" in capsys.readouterr().err
    assert sr(src, "--model", weights, "--overwrite") == 0
    assert Image.open(dst).size == (48, 32)


def test_never_overwrites_an_input_even_with_overwrite(tmp_path, weights, capsys):
    src = _photo(tmp_path / "in.png")
    before = src.read_bytes()
    assert sr(src, "--model", weights, "--suffix", "", "--overwrite") == 2
    assert src.read_bytes() == before
    assert "would overwrite an input" in capsys.readouterr().err


def test_bad_images_are_reported_and_the_rest_continue(tmp_path, weights, capsys):
    good = _photo(tmp_path / "good.png")
    (tmp_path / "corrupt.png").write_bytes(good.read_bytes()[:60])
    (tmp_path / "notes.txt").write_text("not an image")
    assert sr(tmp_path / "corrupt.png", tmp_path / "notes.txt", good, "--model", weights) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "restore: error:" in line]
    assert len(errors) == 2 and "corrupt.png" in errors[0] and "notes.txt" in errors[1]
    assert "Traceback" not in err and "2 failed" in err
    assert (tmp_path / "good_x2.png").is_file()


def test_no_weights_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    src = _photo(tmp_path / "in.png")
    assert sr(src) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no super-resolution weights are shipped yet" in err and "--model" in err


def test_bad_flags_are_one_line_errors(tmp_path, weights, capsys):
    src = _photo(tmp_path / "in.png")
    assert sr(src, "--model", weights, "--tile", 4) == 2
    assert sr(src, "--model", weights, "--outscale", -1) == 2
    assert sr(src, "--model", weights, "--scale", 4) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("restore: error:") for line in lines)


def test_alpha_gray_and_sixteen_bit_survive(tmp_path, weights):
    _photo(tmp_path / "rgba.png", mode="RGBA")
    _photo(tmp_path / "la.png", mode="LA")
    ramp = np.linspace(0, 65535, 24 * 16).reshape(16, 24).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")  # 16-bit gray
    assert sr(tmp_path / "rgba.png", tmp_path / "la.png", tmp_path / "deep.png", "--model", weights,
              "-o", tmp_path / "out") == 0
    rgba, la, deep = (read_image(tmp_path / "out" / f"{n}_x2.png") for n in ("rgba", "la", "deep"))
    assert rgba.alpha is not None and rgba.tensor.shape == (1, 3, 32, 48)
    assert la.alpha is not None and la.is_gray
    assert deep.bit_depth == 16 and deep.is_gray and deep.alpha is None
    assert len(torch.unique(deep.tensor)) > 256


def test_alpha_from_a_jpeg_incapable_input_goes_to_png(tmp_path, weights):
    assert plan_outputs([tmp_path / "a.jpg"], output=None, suffix="_x2", ext="auto",
                        has_alpha=lambda p: True) == [tmp_path / "a_x2.png"]


def test_exif_orientation_and_icc_are_respected(tmp_path, weights):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    src = _photo(tmp_path / "phone.jpg", size=(24, 16), exif=exif, icc_profile=icc)
    assert sr(src, "--model", weights) == 0
    out = Image.open(tmp_path / "phone_x2.jpg")
    assert out.size == (32, 48)  # upright: width and height swapped, then doubled
    assert out.info.get("icc_profile") == icc
    assert out.getexif().get(0x0112, 1) == 1


def test_duplicate_targets_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    with pytest.raises(RestoreError, match="would both be written"):
        plan_outputs([tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"], output=str(tmp_path / "o"),
                     suffix="_x4", ext="auto")


@pytest.mark.parametrize("world", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("count", [0, 1, 5, 12])
def test_shards_cover_every_file_once(world, count):
    files = [f"img{i}.png" for i in range(count)]
    shards = [shard_files(files, rank, world) for rank in range(world)]
    flat = [f for shard in shards for f in shard]
    assert sorted(flat) == sorted(files) and len(flat) == len(set(flat))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    with pytest.raises(ValueError):
        shard_files(files, world, world)


def test_ranks_split_the_work_through_the_cli(tmp_path, weights, monkeypatch):
    for i in range(5):
        _photo(tmp_path / f"im{i}.png", size=(8, 8))
    written = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        before = set((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else set()
        assert sr(tmp_path, "-o", tmp_path / "out", "--model", weights) == 0
        written.append(set((tmp_path / "out").glob("*")) - before)
    assert [len(w) for w in written] == [3, 2]
    assert len(set.union(*written)) == 5


def test_alpha_into_jpeg_is_refused_or_flattened_on_request(tmp_path, weights, capsys):
    src = _photo(tmp_path / "rgba.png", mode="RGBA")
    assert sr(src, "--model", weights, "--ext", "jpg") == 2
    assert "cannot hold one" in capsys.readouterr().err and not (tmp_path / "rgba_x2.jpg").exists()
    assert sr(src, "--model", weights, "--ext", "jpg", "--background", "#ff0000") == 0
    out = read_image(tmp_path / "rgba_x2.jpg")
    assert out.alpha is None and out.tensor.shape == (1, 3, 32, 48)
    assert sr(src, "--model", weights, "--ext", "png", "--background", "nocolour", "--suffix", "_b") == 2


def test_flatten_alpha_composites_over_the_background():
    from restore.io import flatten_alpha

    colour, alpha = torch.ones(1, 3, 2, 2) * 0.2, torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])
    out = flatten_alpha(colour, alpha, "white")
    torch.testing.assert_close(out[0, 0], torch.tensor([[1.0, 0.2], [0.6, 0.8]]))
    gray = flatten_alpha(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), "#ff0000")
    torch.testing.assert_close(gray, torch.full((1, 1, 2, 2), 0.299))
