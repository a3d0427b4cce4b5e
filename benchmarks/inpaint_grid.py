"""Steps x restarts grid of the face-inpainting search: LPIPS and seconds per image, and the defaults it picks.

The first ``--limit`` held-out faces (see ``inpaint_eval.py``), centre 32x32 hole, ``faces64-dcgan``, on
the device and at the precision ``restore inpaint`` would use, Poisson blending; metrics as in
``inpaint_eval.py``. Two starts:

* ``random``: prior samples (``--method gan``). One search of max(steps) steps per restart count R and
  batch of images; its snapshots give every steps value (the snapshot after s steps is what an s-step
  search returns, tests/test_inpainting.py checks it) and a cell's seconds are the time to step s.
* ``encoder``: from ``faces64-vae``'s completion (``--method gan-vae-init``). The Inpainter fits that start
  in steps // 4 steps of its own, so this start runs one search per (steps, restarts) cell.

The chosen default is the cheapest cell (seconds per image) whose LPIPS is within ``--tolerance`` (5%) of
the best cell's. Units run cheapest first, each kept under ``runs/inpaint_grid/`` and reused by a rerun
with the same settings (so a grid can span sessions); ``--budget-minutes`` stops before a unit that would
not fit (estimated from the last unit run, or 4 ms per image, step and restart before any; 0 runs
nothing and only reports). The report takes every finished unit of the same
setting, also those of earlier runs with other ``--steps``/``--restarts`` lists (e.g. 16 restarts run to
400 steps only); cells not run are listed as missing in the JSON.

``--compare-units DIR`` reports DIR's units (made on more images of the same data, e.g. the 200-face grid)
averaged over this run's images, so a regime too costly for 200 faces (the paper's 1000 x 64) is compared
on the same few faces.

Examples:
    python benchmarks/inpaint_grid.py --limit 200 --steps 25,50,100,200,400,1000 --restarts 1,4,16,64 \\
        --starts random,encoder --budget-minutes 120
    python benchmarks/inpaint_grid.py --limit 3 --steps 25,50,100,200,400,1000 --restarts 64 --starts random \\
        --units benchmarks/results/inpaint_faces_grid_reference_units \\
        --compare-units benchmarks/results/inpaint_faces_grid_units --out benchmarks/results/inpaint_faces_grid_reference.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inpaint_eval import DATASETS, hole_metrics, load_eval_data, make_masks, prior_ids  # noqa: E402

LATENTS_PER_BATCH = 800  # images x restarts searched together (memory: ~3 MB per 64x64 latent)
PRIOR_RATE = 0.004  # s per image, step and restart before a unit has run (2-core Zen 4, bf16: ~0.0037)


def ints(text: str) -> list[int]:
    return sorted({int(v) for v in text.split(",") if v})


def run_unit(inp, start: str, steps: list[int], restarts: int, truth, known, batch: int) -> dict[int, dict]:
    """``{s: {"outputs", "seconds"}}`` for the cells of one unit (one search per batch of images)."""
    from restore.inpainting import blending, semantic

    s_max, outputs, seconds = max(steps), {s: [] for s in steps}, {s: 0.0 for s in steps}
    settings = dict(restarts=restarts, lam=inp.lam, lr=inp.lr, window=inp.window, seed=inp.seed, dtype=inp.dtype)
    # Untimed warm-up at this batch shape (oneDNN builds its kernels on the first call).
    semantic.gan_search(inp.gan, truth[:batch].to(inp.device), known[:batch].to(inp.device), steps=1, **settings)
    for lo in range(0, truth.shape[0], batch):
        y, k = truth[lo:lo + batch].to(inp.device), known[lo:lo + batch].to(inp.device)
        t0 = time.perf_counter()
        if start == "random":
            reached = {0: t0}
            result = semantic.gan_search(inp.gan, y, k, steps=s_max, snapshot_steps=steps,
                                         callback=lambda step: reached.__setitem__(step, time.perf_counter()),
                                         **settings)
            snaps = {s: (result.snapshots[s], reached[s] - t0) for s in steps}
        else:  # the start the Inpainter's gan-vae-init search of s_max steps takes
            z0 = semantic.gan_start_from_vae(inp.gan, inp.vae, y, k, steps=s_max, restarts=restarts, lr=inp.lr,
                                             seed=inp.seed, dtype=inp.dtype)
            result = semantic.gan_search(inp.gan, y, k, steps=s_max, z_init=z0, **settings)
            snaps = {s_max: (result, time.perf_counter() - t0)}
        for s, (snap, search_seconds) in snaps.items():
            t1 = time.perf_counter()
            fill = snap.fill.float().cpu().clamp(0, 1)
            outputs[s].append(blending.poisson_blend(fill, y.cpu(), k.cpu(), method=inp.blend_solver))
            seconds[s] += search_seconds + time.perf_counter() - t1
        print(f"    {start} R={restarts} steps<={s_max}: {lo + len(y)}/{truth.shape[0]} "
              f"({seconds[s_max]:.0f}s)", file=sys.stderr, flush=True)
    return {s: {"outputs": torch.cat(outputs[s]), "seconds": seconds[s]} for s in steps}


def finished_cells(units_dir: Path, setting: dict, starts, restarts_list, steps_list,
                   first: int | None = None) -> dict[tuple[str, int, int], dict]:
    """``{(start, steps, restarts): cell}`` of every finished unit of ``setting`` in ``units_dir``, also
    those of earlier runs with other --steps lists (an empty list: any). ``first``: units made on more images of the same data
    count too, their metrics averaged over their first ``first`` images (the same images)."""
    def comparable(saved: dict) -> bool:
        if first is None:
            return saved["setting"] == setting
        other = {k: v for k, v in saved["setting"].items() if k not in ("data", "images")}
        return (other == {k: v for k, v in setting.items() if k not in ("data", "images")}
                and saved["setting"]["images"] >= first
                and saved["setting"]["data"].split(" (")[0] == setting["data"].split(" (")[0])

    cells = {}
    for path in sorted(units_dir.glob("*_r*_s*.json")):
        saved = json.loads(path.read_text())
        start, restarts = path.stem.split("_")[0], int(path.stem.split("_")[1][1:])
        if not comparable(saved) or start not in starts or (restarts_list and restarts not in restarts_list):
            continue
        for s, cell in saved["cells"].items():
            if steps_list and int(s) not in steps_list:
                continue
            numbers = {k: v for k, v in cell.items() if k != "per_image"}
            if first is not None:
                numbers.update({k: sum(v[:first]) / first for k, v in cell["per_image"].items()})
            cells.setdefault((start, int(s), restarts), {**numbers, "batch": saved["batch"], "unit": path.stem})
    return cells


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="faces", choices=("faces", "example"),
                   help="the held-out CelebA faces, or the bundled example face (one image; tests)")
    p.add_argument("--limit", type=int, default=200, help="held-out faces (the first N)")
    p.add_argument("--steps", type=ints, default=ints("25,50,100,200,400,1000"))
    p.add_argument("--restarts", type=ints, default=ints("1,4,16,64"))
    p.add_argument("--starts", default="random,encoder", help="comma list of random, encoder")
    p.add_argument("--batch", type=int, default=50, help="images per search (fewer when restarts x images > "
                   f"{LATENTS_PER_BATCH})")
    p.add_argument("--tolerance", type=float, default=0.05, help="LPIPS margin over the best cell")
    p.add_argument("--budget-minutes", type=float, default=None, help="start no unit that would end later")
    p.add_argument("--markdown", action="store_true", help="also print the tables in Markdown (the README's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--units", default="runs/inpaint_grid", help="folder of finished units (resume)")
    p.add_argument("--out", default="benchmarks/results/inpaint_faces_grid.json")
    p.add_argument("--compare-units", default=None, metavar="DIR",
                   help="also report DIR's units (made on more images of the same data) on this run's images")
    args = p.parse_args(argv)
    starts = [s for s in args.starts.split(",") if s]
    if not set(starts) <= {"random", "encoder"} or not starts:
        p.error("--starts is a comma list of random, encoder")

    from restore.device import describe_device
    from restore.io import atomic_write_bytes
    from restore.pipelines.inpainting import Inpainter
    from restore.pipelines.priors import load_prior

    spec = DATASETS[args.data]
    data = load_eval_data(args.data, args.limit)
    truth = data.batch(slice(None))
    known = make_masks("centre", truth.shape[0], spec["resolution"])
    gan, gan_name = load_prior(spec["gan"], "gan")
    vae, vae_name = load_prior(spec["vae"], "vae")
    inp = Inpainter("gan-vae-init", gan, vae, device=args.device, blend="poisson")
    setting = {"data": data.source, "images": truth.shape[0], "mask": "centre",
               "priors": list(prior_ids({"gan": gan_name, "vae": vae_name}).values()),
               "lambda": inp.lam, "lr": inp.lr, "window": inp.window, "seed": inp.seed, "blend": inp.blend,
               "precision": str(inp.dtype).replace("torch.", ""), "device": describe_device(inp.device)}
    units_dir = Path(args.units)
    units_dir.mkdir(parents=True, exist_ok=True)

    # One unit: (random, R) covers every steps value; (encoder, R, S) one cell. Cheapest first.
    units = [("random", r, tuple(args.steps)) for r in args.restarts] if "random" in starts else []
    units += [("encoder", r, (s,)) for r in args.restarts for s in args.steps] if "encoder" in starts else []
    units.sort(key=lambda u: max(u[2]) * u[1] * (1.25 if u[0] == "encoder" else 1))
    rate, began = PRIOR_RATE, time.perf_counter()
    for start, restarts, steps in units:
        key = f"{start}_r{restarts}_s{'-'.join(map(str, steps))}"
        path = units_dir / f"{key}.json"
        saved = json.loads(path.read_text()) if path.is_file() else None
        if saved is None or saved["setting"] != setting:
            cost = max(steps) * restarts * (1.25 if start == "encoder" else 1) * truth.shape[0]
            if args.budget_minutes is not None:
                left = args.budget_minutes * 60 - (time.perf_counter() - began)
                if cost * rate > left:
                    print(f"  {key}: ~{cost * rate / 60:.0f} min does not fit the {left / 60:.0f} min left; "
                          "stopping", file=sys.stderr)
                    break
            t0 = time.perf_counter()
            batch = max(1, min(args.batch, LATENTS_PER_BATCH // restarts))
            found = run_unit(inp, start, list(steps), restarts, truth, known, batch)
            rate = (time.perf_counter() - t0) / cost  # seconds per image-step-restart, for the budget
            saved = {"setting": setting, "batch": batch, "cells": {}}
            for s, r in found.items():
                metrics = hole_metrics(r["outputs"], truth, known)
                saved["cells"][str(s)] = {**{k: float(v.mean()) for k, v in metrics.items()},
                                          "seconds_per_image": r["seconds"] / truth.shape[0],
                                          "per_image": {k: [round(float(x), 5) for x in v] for k, v in metrics.items()}}
            atomic_write_bytes(path, (json.dumps(saved) + "\n").encode(), overwrite=True)
            print(f"  {key}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)

    cells = finished_cells(units_dir, setting, starts, args.restarts, args.steps)

    # ---------------------------------------------------------------- report
    rows = [{"start": st, "steps": s, "restarts": r, **{k: round(v, 4) if isinstance(v, float) else v
                                                          for k, v in c.items()}}
            for (st, s, r), c in sorted(cells.items())]
    missing = [{"start": st, "steps": s, "restarts": r} for st in starts for s in args.steps for r in args.restarts
               if (st, s, r) not in cells]
    chosen = best = None
    if rows:
        best = min(rows, key=lambda c: c["lpips"])
        within = [c for c in rows if c["lpips"] <= best["lpips"] * (1 + args.tolerance)]
        chosen = min(within, key=lambda c: c["seconds_per_image"])
    for st in starts:
        print(f"\n{st} start: LPIPS (whole image) / seconds per image; rows steps, columns restarts")
        print("steps  " + "".join(f"{r:>16d}" for r in args.restarts))
        for s in args.steps:
            line = "".join(f"{cells[(st, s, r)]['lpips']:9.4f}/{cells[(st, s, r)]['seconds_per_image']:6.2f}"
                           if (st, s, r) in cells else f"{'-':>16s}" for r in args.restarts)
            print(f"{s:5d}  {line}")
    if args.markdown:
        for st in starts:
            print(f"\n{st} start, LPIPS / seconds per image:\n\n| steps | "
                  + " | ".join(f"{r} restart{'s' * (r > 1)}" for r in args.restarts) + " |")
            print("|---" * (len(args.restarts) + 1) + "|")
            for s in args.steps:
                row = [f"{cells[(st, s, r)]['lpips']:.4f} / {cells[(st, s, r)]['seconds_per_image']:.2f}"
                       if (st, s, r) in cells else "–" for r in args.restarts]
                print(f"| {s} | " + " | ".join(row) + " |")
    if chosen:
        print(f"\nbest: {best['start']} {best['steps']}x{best['restarts']} LPIPS {best['lpips']:.4f}; chosen "
              f"(cheapest within {args.tolerance:.0%}): {chosen['start']} {chosen['steps']}x{chosen['restarts']} "
              f"LPIPS {chosen['lpips']:.4f} at {chosen['seconds_per_image']:.2f} s/image; {len(missing)} cells missing")
    compared = []
    if args.compare_units:  # e.g. the reference regime on a few faces against the 200-face grid on those faces
        other = finished_cells(Path(args.compare_units), setting, starts, [], [], first=truth.shape[0])
        compared = [{"start": st, "steps": s, "restarts": r, "lpips": round(c["lpips"], 4),
                     "psnr_hole": round(c["psnr_hole"], 2), "seconds_per_image": round(c["seconds_per_image"], 2),
                     "unit": c["unit"]} for (st, s, r), c in sorted(other.items(), key=lambda kv: kv[1]["lpips"])]
        print(f"\n{args.compare_units} on the same {truth.shape[0]} images (LPIPS; seconds per image as timed there):")
        for c in compared:
            print(f"  {c['start']:8s} {c['steps']:5d} x {c['restarts']:<3d} LPIPS {c['lpips']:.4f}  "
                  f"{c['seconds_per_image']:6.2f} s")
    record = {"setting": setting, "tolerance": args.tolerance, "rows": rows, "best": best, "chosen": chosen,
              "missing": missing, "compared": compared, "command": " ".join(["python"] + sys.argv)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(args.out), (json.dumps(record, indent=2) + "\n").encode(), overwrite=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
