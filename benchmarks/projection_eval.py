"""Projection evaluation: how well a prior reconstructs held-out real faces, random vs encoder start.

Data (never copied into the repository): the first ``--limit`` (100) images of the held-out split (the
last 1,000) of ``../shared/data/faces64/celeba64_train.tar.gz`` (relative to the repository's parent;
``--data`` overrides), 3x64x64, read from the tar directly. Prior ``faces64-dcgan``; the encoder start
uses its companion ``faces64-vae`` (``--vae``).

Each image is projected by :class:`restore.pipelines.projection.Projector` (pixel L1 + ``--lpips-weight``
x LPIPS-alex, ``--steps`` x ``--restarts``, default by device) once per start (``--inits``); the
reconstruction G(z*) is scored against the image: LPIPS (alex), PSNR (RGB), the final loss, and seconds
per image (the batch's wall time / images, the encoder start included).

Prints a table and writes ``benchmarks/results/projection_faces.json`` (``--out``) with the exact command.

Example:
    python benchmarks/projection_eval.py --limit 100 --inits random,encoder
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "data" / "faces64" / "celeba64_train.tar.gz"
RESULTS = ROOT / "benchmarks" / "results" / "projection_faces.json"
INITS = ("random", "encoder")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(FACES), help="face archive or folder (default: %(default)s)")
    p.add_argument("--model", default="faces64-dcgan", help="prior name or .safetensors (default: faces64-dcgan)")
    p.add_argument("--vae", default=None, help="encoder for --inits encoder (default: the prior's companion VAE)")
    p.add_argument("--inits", default=",".join(INITS), help=f"comma list of {', '.join(INITS)}")
    p.add_argument("--limit", type=int, default=100, help="images (the first N of the held-out split)")
    p.add_argument("--holdout", type=int, default=1000, help="size of the held-out split (default 1000)")
    p.add_argument("--batch", type=int, default=25, help="images projected together (x restarts)")
    p.add_argument("--steps", type=int, default=None, help="Adam steps (default: by device)")
    p.add_argument("--restarts", type=int, default=None, help="restarts (default: by device)")
    p.add_argument("--lpips-weight", type=float, default=1.0)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS), help="JSON path (default: %(default)s)")
    args = p.parse_args(argv)

    from restore.data.generative import load_generative_data
    from restore.device import describe_device, precision_name
    from restore.io import atomic_write_bytes
    from restore.metrics import lpips, psnr
    from restore.pipelines.projection import Projector

    inits = [i for i in args.inits.split(",") if i]
    for i in inits:
        if i not in INITS:
            p.error(f"unknown init {i}")
    data = load_generative_data(args.data, resolution=64, channels=3, split="heldout", holdout=args.holdout,
                                limit=args.limit)
    truth = data.batch(slice(None))
    n = truth.shape[0]
    results, settings = {}, {}
    for init in inits:
        projector = Projector.from_pretrained(args.model, vae=args.vae, init=init, steps=args.steps,
                                              restarts=args.restarts, lpips_weight=args.lpips_weight,
                                              device=args.device, precision=args.precision, seed=args.seed)
        settings = {"steps": projector.steps, "restarts": projector.restarts, "lpips_weight": projector.lpips_weight,
                    "pixel": projector.pixel, "lr": projector.lr, "seed": args.seed, "batch": args.batch,
                    "precision": precision_name(projector.dtype), "device": describe_device(projector.device)}
        print(f"{data.source}: {n} images; {projector!r}", file=sys.stderr)
        recons, losses, seconds = [], [], 0.0
        for start in range(0, n, args.batch):
            x = truth[start:start + args.batch]
            if projector.device.type == "cuda":
                torch.cuda.synchronize(projector.device)
            t0 = time.perf_counter()
            recons.append(projector.project(x))
            seconds += time.perf_counter() - t0
            losses.append(projector.last_loss)
            print(f"  {init}: {start + len(x)}/{n} images, {seconds:.1f}s", file=sys.stderr)
        recon = torch.cat(recons)
        results[init] = {
            "model": projector.name,
            "lpips": float(lpips(recon, truth, net="alex").mean()),
            "psnr": float(psnr(recon, truth).mean()),
            "loss": float(torch.cat(losses).mean()),
            "seconds_per_image": seconds / n,
        }

    header = f"{'init':8s} {'model':28s} {'LPIPS':>6s} {'PSNR':>6s} {'loss':>7s} {'s/img':>7s}"
    print(header)
    print("-" * len(header))
    for init, r in results.items():
        print(f"{init:8s} {r['model']:28s} {r['lpips']:6.3f} {r['psnr']:6.2f} {r['loss']:7.4f} "
              f"{r['seconds_per_image']:7.3f}")
    record = {"data": data.source, "images": n, "split": f"heldout (last {args.holdout}), first {n}",
              "resolution": 64, "settings": settings, "results": results,
              "command": " ".join(["python", "benchmarks/projection_eval.py", *(sys.argv[1:] if argv is None else argv)])}
    out = Path(args.out)
    atomic_write_bytes(out, (json.dumps(record, indent=2) + "\n").encode(), overwrite=True)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
