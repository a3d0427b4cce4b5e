"""Benchmark scripts on a machine without their data: one line and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, args, fragment", [
    ("benchmarks/sr_eval.py", ["--val", "/nonexistent/sun_hays80"], "/nonexistent/sun_hays80: no such file or folder"),
    ("benchmarks/sr_real.py", ["--val", "/nonexistent/sun_hays80"], "/nonexistent/sun_hays80: no such folder"),
])
def test_a_benchmark_without_its_data_says_so_in_one_line(script, args, fragment):
    done = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in done.stderr, done.stderr
