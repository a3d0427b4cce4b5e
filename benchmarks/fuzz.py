"""Fuzzing what users feed restore at a large budget (issue 27): counts per class, internal errors, changed inputs, strays.

Two parts:

* **generated**: the property tests of ``tests/test_fuzz.py`` (read_image on random, mutated and valid
  files of every format; masks; model cards; every command's options; the server's multipart, JSON and
  routes), run in-process with ``--cases`` examples spread over them (the CI runs the same generators
  with a small budget). A failing property is a defect: its first line is listed.
* **corpus**: files made from the bundled ``examples/`` images (as PNG, JPEG, WebP, TIFF, BMP) and damaged
  (bit flips, truncations, chunk swaps, header lies about size), run through the command line as a user
  runs it, one subprocess per case: ``restore info``, ``sr --model bicubic``, ``inpaint --method telea``,
  ``metrics``. Each case checks: exit 0, 1 or 2; no traceback and no ``internal error``; exit 2 is exactly one
  ``restore: error:`` line; the inputs keep their bytes; no temporary or partial file stays (a failed
  command writes no output).

Usage:
    nice -n 10 python benchmarks/fuzz.py --cases 20000 --corpus 2000     # the full run (hours on 2 cores)
    nice -n 10 python benchmarks/fuzz.py --cases 200 --corpus 40          # a quick look (minutes)

Prints a table and writes ``benchmarks/results/fuzz.json``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the properties of tests/test_fuzz.py that draw generated cases (the regression tests are not counted)
PROPERTIES = ("test_read_image_random_bytes", "test_read_image_mutated_files", "test_read_image_valid_files",
              "test_masks_of_any_size_mode_and_values", "test_mask_arrays", "test_model_cards",
              "test_cli_options_run", "test_cli_options_parse_every_command", "test_server_multipart",
              "test_server_malformed_bodies", "test_server_routes")
#: test items per property run (test_cli_options_run is parametrized over 5 commands)
ITEMS = 15
CORPUS_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
COMMANDS = ("info", "sr", "inpaint", "metrics")


def run_generated(cases: int) -> dict:
    """The property tests with about ``cases`` examples in all; ``{"counts", "failures", "seconds"}``."""
    import pytest

    per_item = max(1, cases // ITEMS)
    os.environ["RESTORE_FUZZ_EXAMPLES"] = str(per_item)
    failures = []

    class Collect:
        def pytest_runtest_logreport(self, report):
            if report.failed:
                text = str(report.longrepr).strip().splitlines()
                failures.append({"test": report.nodeid, "error": next((ln for ln in reversed(text) if ln.startswith("E ")),
                                                                      text[-1] if text else "")[:300]})

    start = time.perf_counter()
    code = pytest.main(["-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "test_fuzz.py"),
                        "-k", " or ".join(PROPERTIES)], plugins=[Collect()])
    module = sys.modules.get("test_fuzz")
    counts = dict(sorted(module.COUNTS.items())) if module is not None else {}
    return {"examples_per_property": per_item, "pytest_exit": int(code), "counts": counts, "failures": failures,
            "seconds": round(time.perf_counter() - start, 1)}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seeds(folder: Path) -> list[tuple[str, bytes]]:
    """The bundled examples in each corpus format: ``[(format, bytes)]``."""
    import io

    from PIL import Image

    seeds = []
    for path in sorted((ROOT / "examples").glob("*.png")):
        img = Image.open(path)
        img.load()
        if max(img.size) > 128:  # the sr/inpaint runs stay fast; the damage is what is tested
            img = img.resize((img.width // 2, img.height // 2))
        for fmt in CORPUS_FORMATS:
            buf = io.BytesIO()
            img.convert("RGB" if fmt == "JPEG" else img.mode).save(buf, format=fmt)
            seeds.append((fmt, buf.getvalue()))
    return seeds


def _mask_for(data: bytes) -> bytes | None:
    """A mask (a hole in the middle) of the size the (possibly damaged) image declares, when Pillow can tell."""
    import io

    import numpy as np
    from PIL import Image

    try:
        width, height = Image.open(io.BytesIO(data)).size
    except Exception:  # noqa: BLE001 - a file too damaged to tell: any mask will do
        width, height = 64, 64
    if width * height > 4096 * 4096 or width < 1 or height < 1:
        width, height = 64, 64
    arr = np.zeros((height, width), np.uint8)
    arr[height // 4:height // 2 + 1, width // 4:width // 2 + 1] = 255
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def run_corpus(cases: int, seed: int, timeout: float) -> dict:
    """``cases`` damaged files through the CLI in subprocesses; counts and every broken invariant."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from test_fuzz import mutate

    rng = np.random.default_rng(seed)
    counts: collections.Counter = collections.Counter()
    problems = []
    root = Path(tempfile.mkdtemp(prefix="restore-fuzz-corpus-"))
    seeds = _seeds(root)
    kinds = ("flip", "byte", "truncate", "swap", "lie", "insert", "delete")
    env = {**os.environ, "RESTORE_MAX_PIXELS": str(4096 * 4096)}  # header lies stay cheap; the limit is tested
    start = time.perf_counter()
    try:
        for i in range(cases):
            fmt, data = seeds[int(rng.integers(len(seeds)))]
            ops = [(kinds[int(rng.integers(len(kinds)))], int(rng.integers(2**20)), int(rng.integers(2**20)))
                   for _ in range(int(rng.integers(1, 4)))]
            bad = mutate(data, fmt, ops)
            command = COMMANDS[i % len(COMMANDS)]
            case = root / f"case{i}"
            (case / "out").mkdir(parents=True)
            image = case / f"in{CORPUS_FORMATS[fmt]}"
            image.write_bytes(bad)
            inputs = [image]
            if command == "info":
                argv = ["info", image]
            elif command == "sr":
                argv = ["sr", image, "--model", "bicubic", "--scale", "2", "-o", case / "out", "--no-progress"]
            elif command == "inpaint":
                mask = case / "mask.png"
                mask.write_bytes(_mask_for(bad) if rng.integers(4) else mutate(_mask_for(data), "PNG", ops))
                inputs.append(mask)
                argv = ["inpaint", image, "--mask", mask, "--method", "telea", "-o", case / "out", "--no-progress"]
            else:
                ref = case / f"ref{CORPUS_FORMATS[fmt]}"
                ref.write_bytes(data)
                inputs.append(ref)
                argv = ["metrics", ref, image]
            before = {p: _digest(p) for p in inputs}
            try:
                proc = subprocess.run([sys.executable, "-m", "restore.cli", *map(str, argv)], capture_output=True,
                                      text=True, timeout=timeout, env=env, cwd=case)
                code, err = proc.returncode, proc.stderr
            except subprocess.TimeoutExpired:
                code, err = "timeout", ""
            counts[f"{command}: exit {code}"] += 1
            found = []
            if code not in (0, 1, 2):
                found.append(f"exit {code}")
            if "Traceback" in err or "internal error" in err:
                found.append("internal error")
            if code == 2 and sum(ln.startswith("restore: error:") for ln in err.splitlines()) != 1:
                found.append("not one error line")
            if any(_digest(p) != d for p, d in before.items()):
                found.append("changed input")
            outputs = list((case / "out").iterdir())
            allowed = set(inputs) | {case / "out"} | set(outputs)
            strays = [p for p in case.rglob("*") if p not in allowed or p.name.endswith(".tmp")
                      or p.name.startswith(".restore-")]
            if strays or (code != 0 and outputs):
                found.append("stray or partial file")
            for what in found:
                counts[what] += 1
                problems.append({"case": i, "command": command, "format": fmt, "ops": ops, "problem": what,
                                 "stderr": err.strip().splitlines()[-1:] if err else []})
            if not found:
                shutil.rmtree(case)
            else:  # kept for a look; the folder is printed at the end
                (case / "argv.json").write_text(json.dumps([str(a) for a in argv]))
    finally:
        if not problems:
            shutil.rmtree(root, ignore_errors=True)
    return {"cases": cases, "seed": seed, "counts": dict(sorted(counts.items())), "problems": problems,
            "kept_in": str(root) if problems else None, "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20000, help="generated cases in all (default 20000)")
    ap.add_argument("--corpus", type=int, default=2000, help="damaged example files through the CLI (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="of the corpus' damage")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per CLI case before it counts as a hang")
    ap.add_argument("--out", default="benchmarks/results/fuzz.json")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)

    generated = run_generated(args.cases) if args.cases > 0 else None
    corpus = run_corpus(args.corpus, args.seed, args.timeout) if args.corpus > 0 else None

    gen_total = sum(v for k, v in (generated or {}).get("counts", {}).items())
    corpus_counts = (corpus or {}).get("counts", {})
    corpus_total = sum(v for k, v in corpus_counts.items() if ": exit " in k)
    internal = len((generated or {}).get("failures", [])) + corpus_counts.get("internal error", 0)
    summary = {"generated_cases": gen_total, "corpus_cases": corpus_total,
               "failing_properties": len((generated or {}).get("failures", [])),
               "internal_errors": corpus_counts.get("internal error", 0),
               "changed_inputs": corpus_counts.get("changed input", 0),
               "strays": corpus_counts.get("stray or partial file", 0),
               "not_one_line": corpus_counts.get("not one error line", 0)}
    print(f"{'class':<44} {'cases':>7}")
    print("-" * 52)
    for part in (generated, corpus):
        for name, n in (part or {}).get("counts", {}).items():
            print(f"{name:<44} {n:>7}")
    print("-" * 52)
    for key, value in summary.items():
        print(f"{key:<44} {value:>7}")
    for f in (generated or {}).get("failures", []):
        print(f"FAILED {f['test']}: {f['error']}")
    for p in (corpus or {}).get("problems", []):
        print(f"PROBLEM case {p['case']} ({p['command']}, {p['format']}, {p['ops']}): {p['problem']} {p['stderr']}")
    if corpus and corpus["kept_in"]:
        print(f"failing corpus cases kept in {corpus['kept_in']}")

    from restore.io import atomic_write_bytes

    result = {"benchmark": "fuzz", "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "note": args.note, "python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count(), "summary": summary, "generated": generated, "corpus": corpus}
    atomic_write_bytes(args.out, (json.dumps(result, indent=1) + "\n").encode(), overwrite=True)
    print(f"wrote {args.out}")
    return 1 if internal or summary["changed_inputs"] or summary["strays"] or summary["not_one_line"] else 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
