"""benchmarks/inpaint_eval.py: a long evaluation resumes from its finished (mask, method) cells."""

from __future__ import annotations

import json

import pytest
from conftest import load_script

pytestmark = pytest.mark.slow  # real (tiny) evaluations: ~7 s each on a 2-core CPU


@pytest.fixture(scope="module")
def evaluation():
    return load_script("benchmarks/inpaint_eval.py")


def _run(evaluation, tmp_path, name, *extra):
    out = tmp_path / f"{name}.json"
    args = ["--data", "example", "--limit", "1", "--batch", "1", "--restarts", "1", "--methods", "gan,telea",
            "--masks", "centre", "--out", str(out), "--cells", str(tmp_path / "cells"), "--figure-rows", "1", *extra]
    assert evaluation.main(args) == 0
    return json.loads(out.read_text())["results"]["centre"]


def test_finished_cells_are_reused_and_other_settings_recomputed(evaluation, tmp_path, capsys):
    first = _run(evaluation, tmp_path, "first", "--steps", "2")
    assert "reused from" not in capsys.readouterr().err
    again = _run(evaluation, tmp_path, "again", "--steps", "2", "--markdown")
    captured = capsys.readouterr()
    assert captured.err.count("reused from") == 2
    assert again == first  # the numbers come from the cells, seconds included
    assert f"| centre | gan | {first['gan']['psnr']:.2f} |" in captured.out
    assert (tmp_path / "again.png").is_file()  # the figure is made from the kept outputs

    other = _run(evaluation, tmp_path, "other", "--steps", "3")
    err = capsys.readouterr().err
    assert "gan           done" in err and "telea         reused" in err  # only the search's settings changed
    assert other["telea"] == first["telea"]
    assert other["gan"]["seconds_per_image"] != first["gan"]["seconds_per_image"]


def test_a_cell_of_other_data_is_not_mixed_in(evaluation, tmp_path, capsys):
    _run(evaluation, tmp_path, "first", "--steps", "2")
    meta = tmp_path / "cells" / "centre-telea.json"
    record = json.loads(meta.read_text())
    record["fingerprint"]["images"] = 1000
    record["metrics"]["lpips"] = -1.0
    meta.write_text(json.dumps(record))
    capsys.readouterr()
    result = _run(evaluation, tmp_path, "again", "--steps", "2")
    assert result["telea"]["lpips"] > 0
    assert "telea         done" in capsys.readouterr().err


def test_cells_kept_as_numbers_only_are_reused_without_a_figure(evaluation, tmp_path, capsys):
    # The cells' JSONs may be committed (numbers only); the outputs on the data stay out of the repository.
    methods = ["--methods", "gan,gan-vae-init,telea", "--steps", "3"]
    first = _run(evaluation, tmp_path, "first", *methods)
    reach = json.loads((tmp_path / "first.json").read_text())["steps_to_reach"]["centre"]["gan-vae-init vs gan"]
    for tensors in (tmp_path / "cells").glob("*.safetensors"):
        if "gan-vae-init" not in tensors.name:  # the encoder start keeps its traces: steps to reach still known
            tensors.unlink()
    capsys.readouterr()
    again = _run(evaluation, tmp_path, "again", *methods)
    err = capsys.readouterr().err
    assert again == first and err.count("reused from") == 3
    assert "no figure" in err and not (tmp_path / "again.png").exists()
    record = json.loads((tmp_path / "again.json").read_text())
    assert record["figure"] is None and record["steps_to_reach"]["centre"]["gan-vae-init vs gan"] == reach
