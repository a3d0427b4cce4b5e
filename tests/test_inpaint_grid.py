"""benchmarks/inpaint_grid.py: the steps x restarts grid keeps its units, reuses them, and picks the default."""

from __future__ import annotations

import json
import re

import pytest
from conftest import load_script

pytestmark = pytest.mark.slow  # a real (tiny) grid of searches: ~20 s on a 2-core CPU


@pytest.fixture(scope="module")
def grid():
    return load_script("benchmarks/inpaint_grid.py")


def _run(grid, tmp_path, *extra):
    out = tmp_path / "grid.json"
    args = ["--data", "example", "--limit", "1", "--steps", "1,3", "--restarts", "1", "--starts", "random,encoder",
            "--units", str(tmp_path / "units"), "--out", str(out), *extra]
    assert grid.main(args) == 0
    return json.loads(out.read_text())


def test_grid_runs_its_units_once_and_picks_the_cheapest_cell_near_the_best(grid, tmp_path, capsys):
    first = _run(grid, tmp_path, "--restarts", "1,2")
    err = capsys.readouterr().err
    # one unit per restart count for random starts (its snapshots give every steps value), one per cell for
    # the encoder start
    assert sorted(p.stem for p in (tmp_path / "units").glob("*.json")) == [
        "encoder_r1_s1", "encoder_r1_s3", "encoder_r2_s1", "encoder_r2_s3", "random_r1_s1-3", "random_r2_s1-3"]
    assert err.count("done in") == 6
    cells = {(c["start"], c["steps"], c["restarts"]): c for c in first["rows"]}
    assert len(cells) == 8 and first["missing"] == []
    assert all(0 < c["lpips"] < 1 and c["seconds_per_image"] > 0 for c in cells.values())
    # a random unit's 1-step cell is its snapshot, reached before the 3-step one
    assert cells["random", 1, 1]["seconds_per_image"] < cells["random", 3, 1]["seconds_per_image"]
    best = min(first["rows"], key=lambda c: c["lpips"])
    assert first["best"] == best
    near = [c for c in first["rows"] if c["lpips"] <= best["lpips"] * 1.05]
    assert first["chosen"] == min(near, key=lambda c: c["seconds_per_image"])

    again = _run(grid, tmp_path, "--steps", "1,3,5")  # fewer restarts, one more steps value: only the new units run
    assert sorted(re.findall(r"(\S+): done in", capsys.readouterr().err)) == ["encoder_r1_s5", "random_r1_s1-3-5"]
    assert {(c["start"], c["steps"]) for c in again["rows"]} >= {("random", 1), ("random", 3), ("encoder", 3)}
    assert {"start": "encoder", "steps": 5, "restarts": 1} not in again["missing"]  # it ran: not missing

    report = _run(grid, tmp_path, "--budget-minutes", "0", "--restarts", "1,2", "--steps", "1,3,7",
                  "--compare-units", str(tmp_path / "units"))
    assert {"start": "random", "steps": 7, "restarts": 2} in report["missing"]  # budget 0 runs nothing
    compared = {(c["start"], c["steps"], c["restarts"]): c["lpips"] for c in report["compared"]}
    assert compared["random", 3, 2] == round(cells["random", 3, 2]["lpips"], 4)  # the same image, the same numbers
