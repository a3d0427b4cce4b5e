"""``--method auto``: a prior only for images in its domain (faces, Fashion-MNIST-sized gray), else classical."""

import re

import numpy as np
import pytest
import torch
from skimage import data

from restore.cli.main import main
from restore.inpainting.faces import detect_faces, prior_crop
from restore.io import read_image, write_image
from restore.pipelines.inpainting import AutoInpainter, Inpainter

NON_FACES = ("coffee", "chelsea", "rocket", "brick", "horse", "coins", "clock", "page")


def _tensor(array: np.ndarray) -> torch.Tensor:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(array[..., :3])).permute(2, 0, 1)[None].float() / 255


def _known(h, w, top, bottom, left, right):
    known = torch.ones(1, 1, h, w)
    known[..., top:bottom, left:right] = 0
    return known


@pytest.fixture(scope="module")
def astronaut():
    return _tensor(data.astronaut())


@pytest.fixture(scope="module")
def face64(astronaut):
    """The astronaut's face cut the way CelebA frames faces, at the face prior's 64x64."""
    from restore.data.degradation import resize

    face = detect_faces(data.astronaut())[0]
    square = prior_crop(face)
    top, left, size = square.top, square.left, square.size
    return resize(astronaut[..., top:top + size, left:left + size], 64).clamp(0, 1)


def test_the_astronauts_face_is_found_and_framed_around_it():
    faces = detect_faces(data.astronaut())
    assert len(faces) == 1
    face = faces[0]
    assert 90 <= face.size <= 140 and 40 <= face.top <= 90 and 150 <= face.left <= 200  # her face, not the suit
    square = prior_crop(face)
    top, left, size = square.top, square.left, square.size
    assert top > face.top and abs(size - 0.97 * face.size) <= 1  # CelebA crops sit lower and a bit tighter


def test_the_second_cascade_runs_only_where_the_first_finds_nothing(monkeypatch):
    import restore.inpainting.faces as faces

    class Blind:
        calls = 0

        def detectMultiScale(self, *args, **kwargs):
            Blind.calls += 1
            return ()

    default, alt2 = faces.cascades()
    monkeypatch.setattr(faces, "_cascades", [Blind(), alt2])
    found = detect_faces(data.astronaut())
    assert len(found) == 1 and 150 <= found[0].left <= 200 and Blind.calls == 1  # alt2 finds her face
    monkeypatch.setattr(faces, "_cascades", [default, Blind()])
    assert len(detect_faces(data.astronaut())) == 1 and Blind.calls == 1  # the first found it: no second pass
    monkeypatch.setattr(faces, "_cascades", [Blind(), Blind()])
    assert detect_faces(data.astronaut()) == [] and Blind.calls == 3


@pytest.mark.parametrize("name", NON_FACES)
def test_non_face_photos_get_a_classical_method(name):
    image = _tensor(getattr(data, name)())
    h, w = image.shape[-2:]
    choice = AutoInpainter().choose(image, _known(h, w, h // 3, h // 2, w // 3, w // 2))
    assert choice["model"] is None and choice["method"] == "fsr-fast", choice  # a hole of 1/36 of the image


def test_classical_choice_follows_the_hole_size():
    from restore.pipelines import inpainting

    auto, image = AutoInpainter(), torch.rand(1, 3, 100, 100)
    small, large = _known(100, 100, 10, 60, 10, 60), _known(100, 100, 0, 80, 0, 80)  # 25% and 64% of the image
    assert auto.choose(image, small)["method"] == "fsr-fast"
    choice = auto.choose(image, large)
    assert choice["method"] == "telea" and "holes over 50% of the image" in choice["reason"]
    big = torch.rand(1, 3, 1200, 1200)  # a 30% hole of 432,000 pixels: past fsr-fast's time budget
    choice = auto.choose(big, _known(1200, 1200, 0, 360, 0, 1200))
    assert inpainting.FSR_MAX_HOLE_PIXELS < 360 * 1200 and choice["method"] == "telea", choice
    assert "fsr-fast would be slow" in choice["reason"]


def test_a_hole_in_a_face_uses_the_face_prior_on_a_crop_around_the_face(astronaut):
    known = _known(512, 512, 120, 150, 200, 245)  # nose and mouth
    auto = AutoInpainter(steps=2, restarts=1)
    choice = auto.choose(astronaut, known)
    assert choice["method"] == "gan-vae-init" and choice["model"] == "faces64-dcgan" and "face" in choice["reason"]
    box = choice["box"]
    assert box.top <= 120 and box.left <= 200 and box.top + box.size >= 150 and box.left + box.size >= 245
    # the face's size as WxH and its corner as x= (her face is at x 150..200), y=
    where = re.search(r"a face around the hole \((\d+)x(\d+) at x=(\d+), y=(\d+)\)", choice["reason"])
    assert where and where[1] == where[2] and 150 <= int(where[3]) <= 200, choice["reason"]
    out = auto.inpaint(astronaut, known)
    assert auto.last_info[0]["crop"] == box.as_dict() and auto.last_info[0]["model"] == "faces64-dcgan"
    outside = known.bool().expand_as(out)
    assert torch.equal(out[outside], astronaut[outside])  # outside the hole the photo is untouched
    assert not torch.equal(out, astronaut)


def test_faces_search_from_the_face_vaes_start_with_its_budget_or_from_random_starts_without_it(face64):
    from restore.pipelines.priors import SEARCH_DEFAULTS

    known = _known(64, 64, 16, 48, 16, 48)
    auto = AutoInpainter(device="cpu")
    assert (auto._prior("faces64-dcgan", "gan-vae-init").steps, auto._prior("faces64-dcgan", "gan-vae-init").restarts) \
        == SEARCH_DEFAULTS["encoder"]["cpu"] != SEARCH_DEFAULTS["random"]["cpu"]
    assert (auto._prior("faces64-dcgan", "gan").steps, auto._prior("faces64-dcgan", "gan").restarts) \
        == SEARCH_DEFAULTS["random"]["cpu"]
    del auto._shipped["faces64-vae"]  # no face VAE shipped: the random-start search
    choice = auto.choose(face64, known)
    assert choice["method"] == "gan" and choice["model"] == "faces64-dcgan"


def test_a_hole_reaching_outside_the_face_is_left_to_classical(astronaut):
    choice = AutoInpainter().choose(astronaut, _known(512, 512, 130, 300, 180, 260))  # face down to the suit
    assert choice["model"] is None and "reaches outside" in choice["reason"]


def test_a_face_crop_at_the_priors_size_is_filled_whole(face64):
    choice = AutoInpainter().choose(face64, _known(64, 64, 16, 48, 16, 48))
    assert choice["model"] == "faces64-dcgan" and choice["box"] is None


def test_gray_28px_images_use_the_fashion_prior_and_scattered_pixels_biharmonic():
    auto = AutoInpainter()
    shirt = torch.zeros(1, 1, 28, 28)
    shirt[..., 6:22, 8:20] = 0.8
    assert auto.choose(shirt, _known(28, 28, 10, 18, 10, 18))["model"] == "fashion-dcgan"
    photo = _tensor(data.coffee())
    rng = np.random.default_rng(0)
    scattered = torch.from_numpy((rng.random(photo.shape[-2:]) > 0.8).astype(np.float32))[None, None]
    choice = auto.choose(photo, scattered)
    assert choice["method"] == "biharmonic" and "scattered" in choice["reason"]


def test_auto_batches_faces_and_mixes_in_classical(face64):
    auto = AutoInpainter(steps=2, restarts=1)
    blank = torch.full_like(face64, 0.5)
    images = torch.cat([face64, blank, face64])
    known = _known(64, 64, 20, 44, 20, 44).expand(3, -1, -1, -1)
    out = auto.inpaint(images, known)
    assert [i["method"] for i in auto.last_info] == ["gan-vae-init", "fsr-fast", "gan-vae-init"]
    assert auto.last_trace["total"][1] is None and auto.last_trace["total"][0].shape == (2,)
    assert torch.equal(out[1], Inpainter(method="fsr-fast").inpaint(blank, known[:1])[0])


def test_cli_default_is_auto_and_says_why(tmp_path, capsys, face64):
    write_image(tmp_path / "face.png", face64)
    mask = np.zeros((64, 64), np.uint8)
    mask[20:44, 20:44] = 255
    write_image(tmp_path / "mask.png", torch.from_numpy(mask)[None, None].float() / 255)
    coffee = tmp_path / "coffee.png"
    write_image(coffee, _tensor(data.coffee()[:64, :64]))
    assert main(["inpaint", str(tmp_path / "face.png"), str(coffee), "--mask", str(tmp_path / "mask.png"),
                 "-o", str(tmp_path / "out"), "--steps", "2", "--restarts", "1", "--save-trace"]) == 0
    err = capsys.readouterr().err
    assert "face.png: gan-vae-init with faces64-dcgan: a face around the hole" in err
    assert "coffee.png: fsr-fast: no face around the hole" in err
    assert read_image(tmp_path / "out" / "face_inpainted.png").size == (64, 64)
    # a prior named without --method is that prior's own search
    assert main(["inpaint", str(tmp_path / "face.png"), "--mask", str(tmp_path / "mask.png"), "--model",
                 "fashion-vae", "-o", str(tmp_path / "vae"), "--steps", "1", "--restarts", "1"]) == 0
    assert "(vae, " in capsys.readouterr().err


def test_the_bundled_face_example_is_filled_by_the_face_prior(tmp_path, capsys):
    """The README quick start's inpainting command (with a short search)."""
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    assert main(["inpaint", str(examples / "astronaut_face.png"), "--mask", str(examples / "astronaut_face_mask.png"),
                 "-o", str(tmp_path), "--steps", "3", "--restarts", "2"]) == 0
    assert "gan-vae-init with faces64-dcgan: a face around the hole" in capsys.readouterr().err
    face = read_image(examples / "astronaut_face.png").tensor
    out = read_image(tmp_path / "astronaut_face_inpainted.png").tensor
    known = torch.ones(1, 1, 64, 64)
    known[..., 16:48, 16:48] = 0
    assert torch.equal(out * known, face * known) and not torch.equal(out, face)
