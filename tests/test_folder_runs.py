"""Folder runs that can be repeated and resumed, and metrics that pair restore's outputs with their references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from restore.archs.srresnet import SRResNet
from restore.weight_files import export_model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = SRResNet(scale=2, num_blocks=1, channels=8).eval()
    return str(export_model(tmp_path_factory.mktemp("w"), "tiny-x2", model.state_dict(),
                            card={"arch": "srresnet", "config": model.config, "scale": 2}))


def _photos(folder, names=("a.png", "b.png"), size=(24, 16)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(folder / name)
    return folder


def test_folder_input_writes_to_a_sibling_folder_and_repeats_cleanly(tmp_path, weights, run_cli):
    photos = _photos(tmp_path / "photos")
    code, _, err = run_cli("sr", photos, "--model", weights, "--device", "cpu")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "photos_x2").iterdir()) == ["a_x2.png", "b_x2.png"]
    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "b.png"]  # nothing added beside the inputs
    # the same command again: outputs exist -> refused per image without --skip-existing ...
    code, _, err = run_cli("sr", photos, "--model", weights, "--device", "cpu")
    assert code == 1 and err.count("already exists") == 2
    # ... and a no-op with it
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "photos_x2").iterdir()}
    code, _, err = run_cli("sr", photos, "--model", weights, "--device", "cpu", "--skip-existing")
    assert code == 0 and "2 skipped" in err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "photos_x2").iterdir()} == before


def test_interrupted_folder_run_resumes_with_skip_existing(tmp_path, weights, run_cli):
    photos = _photos(tmp_path / "photos", names=("a.png", "b.png", "c.png"))
    assert run_cli("sr", photos / "a.png", "-o", tmp_path / "photos_x2", "--model", weights, "--device", "cpu")[0] == 0
    code, _, err = run_cli("sr", photos, "--model", weights, "--device", "cpu", "--skip-existing")
    assert code == 0 and "2 of 3 image(s) written" in err and "1 skipped" in err
    assert sorted(p.name for p in (tmp_path / "photos_x2").iterdir()) == ["a_x2.png", "b_x2.png", "c_x2.png"]


def test_results_beside_their_inputs_are_not_taken_as_inputs(tmp_path, weights, run_cli):
    photos = _photos(tmp_path / "photos")
    assert run_cli("sr", photos / "a.png", "--model", weights, "--device", "cpu")[0] == 0  # photos/a_x2.png
    code, _, err = run_cli("sr", photos, "--model", weights, "--device", "cpu")
    assert code == 0 and "2 of 2 image(s) written" in err
    assert sorted(p.name for p in (tmp_path / "photos_x2").iterdir()) == ["a_x2.png", "b_x2.png"]


def test_inpaint_folder_run_is_repeatable(tmp_path, run_cli):
    photos = _photos(tmp_path / "photos", size=(32, 32))
    mask = tmp_path / "mask.png"
    Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 12)).save(mask)
    assert run_cli("inpaint", photos, "--mask", mask, "--method", "telea")[0] == 0
    assert sorted(p.name for p in (tmp_path / "photos_inpainted").iterdir()) == ["a_inpainted.png", "b_inpainted.png"]
    code, _, err = run_cli("inpaint", photos, "--mask", mask, "--method", "telea", "--skip-existing")
    assert code == 0 and "nothing to do (2 output(s) already there)" in err


def test_metrics_pairs_outputs_with_references_by_stem(tmp_path, weights, run_cli):
    import json

    photos = _photos(tmp_path / "photos", size=(24, 16))
    refs = _photos(tmp_path / "refs", size=(48, 32))
    assert run_cli("sr", photos, "--model", weights, "--device", "cpu")[0] == 0
    code, out, err = run_cli("metrics", refs, tmp_path / "photos_x2", "--json")
    record = json.loads(out)
    assert code == 0 and [r["image"] for r in record["images"]] == ["a.png", "b.png"] and record["unmatched"] == []
    assert "matched by stem, e.g. a.png <-> a_x2.png" in err
    # an explicit suffix replaces the defaults
    code, _, err = run_cli("metrics", refs, tmp_path / "photos_x2", "--suffix", "_y")
    assert code == 2 and "no file stems in common" in err
