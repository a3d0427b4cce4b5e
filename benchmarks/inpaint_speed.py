"""Inpainting speed on the CPU: seconds per image for the shipped GAN priors, alone and in a batch.

For each prior (``fashion-dcgan`` 32x32 gray, ``faces64-dcgan`` 64x64 RGB), method (``gan``: random starts;
``gan-vae-init``: from the companion VAE's start, what ``auto`` uses on faces) and precision (fp32, bf16
autocast), with the method's CPU defaults (:data:`restore.pipelines.priors.SEARCH_DEFAULTS`: steps x
restarts) and a centre hole of half the side:

* ``one (warm)``: one image through a loaded :class:`restore.pipelines.Inpainter` (median of ``--repeat``);
* ``batch of N``: N images searched together (images x restarts in one batch), per image, after an
  untimed one-step pass at that shape (its time, kernel building included, is ``first_call_warm_up_s``);
* ``CLI, one image``: ``restore inpaint IMG --mask M --method METHOD --model NAME`` in a fresh process,
  start-up (imports, weights) included, per image; at the default precision only.

The images are the prior's own samples (speed does not depend on content; no dataset needed).

Usage:
    python benchmarks/inpaint_speed.py
    python benchmarks/inpaint_speed.py --models faces64-dcgan --batch 50 --repeat 3

Prints a table and writes ``benchmarks/results/inpaint_speed_cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    from restore.device import describe_device
    from restore.io import atomic_write_bytes, write_image
    from restore.pipelines import Inpainter, Sampler

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["fashion-dcgan", "faces64-dcgan"])
    ap.add_argument("--methods", nargs="+", default=["gan", "gan-vae-init"], choices=["gan", "gan-vae-init"])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/inpaint_speed_cpu.json")  # under the cwd, as the other benchmarks
    args = ap.parse_args(argv)

    device = torch.device("cpu")
    print(f"{describe_device(device)} | torch {torch.__version__} | {torch.get_num_threads()} threads")
    rows = []
    samples = {}  # the prior's own images, sampled once per prior
    for name, method in [(n, m) for n in args.models for m in args.methods]:
        if name not in samples:
            samples[name] = Sampler.from_pretrained(name, device="cpu").sample(args.batch, seed=0).float()
        images = samples[name]
        side = images.shape[-1]
        known = torch.ones(args.batch, 1, side, side)
        known[..., side // 4:3 * side // 4, side // 4:3 * side // 4] = 0
        for precision in args.precisions:
            inpaint = Inpainter.from_pretrained(name, method, device="cpu", precision=precision)
            common = {"model": name, "method": method, "steps": inpaint.steps, "restarts": inpaint.restarts,
                      "resolution": side}
            inpaint.inpaint(images[:1], known[:1])  # warm-up (allocations, kernels)
            one = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                inpaint.inpaint(images[:1], known[:1])
                one.append(time.perf_counter() - t0)
            # Untimed one-step pass at the batch's shape: oneDNN builds kernels per shape on first use, a
            # one-off cost that a folder of many batches pays once (recorded as first_call_warm_up_s).
            t0 = time.perf_counter()
            Inpainter.from_pretrained(name, method, device="cpu", precision=precision, steps=1).inpaint(images, known)
            warm_up = time.perf_counter() - t0
            t0 = time.perf_counter()
            inpaint.inpaint(images, known)
            batch = (time.perf_counter() - t0) / args.batch
            rows.append({**common, "precision": precision, "mode": "one (warm)",
                         "s_per_image": round(statistics.median(one), 3)})
            rows.append({**common, "precision": precision, "mode": f"batch of {args.batch}",
                         "s_per_image": round(batch, 3), "first_call_warm_up_s": round(warm_up, 2)})
            print(f"{name} {method} {precision}: one {rows[-2]['s_per_image']} s, "
                  f"batch {rows[-1]['s_per_image']} s/image")
        with tempfile.TemporaryDirectory() as tmp:
            write_image(Path(tmp) / "img.png", images[:1])
            write_image(Path(tmp) / "mask.png", 1 - known[:1])
            cli = []
            for i in range(args.repeat):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "restore.cli", "inpaint", f"{tmp}/img.png", "--mask",
                                f"{tmp}/mask.png", "--method", method, "--model", name, "-o", f"{tmp}/out{i}.png"],
                               check=True, capture_output=True)
                cli.append(time.perf_counter() - t0)
        rows.append({**common, "precision": "auto", "mode": "CLI, one image",
                     "s_per_image": round(statistics.median(cli), 3)})
        print(f"{name} {method} CLI: {rows[-1]['s_per_image']} s")

    table = ["| prior | method (steps x restarts) | precision | mode | s/image |", "|---|---|---|---|---|"]
    table += [f"| {r['model']} ({r['resolution']}²) | {r['method']} ({r['steps']} x {r['restarts']}) | "
              f"{r['precision']} | {r['mode']} | {r['s_per_image']:.3f} |" for r in rows]
    print("\n".join(table))
    result = {"device": describe_device(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "hole": "centre, half the side", "rows": rows,
              "command": " ".join(["python", "benchmarks/inpaint_speed.py", *sys.argv[1:]])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, (json.dumps(result, indent=1) + "\n").encode(), overwrite=True)
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
