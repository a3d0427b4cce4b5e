"""Training throughput of SRResNet and SRGAN steps: fp32 vs bf16 autocast vs ``torch.compile``.

Runs the real training loop (:func:`restore.training.sr.train`) of the CPU recipes (``srresnet_x4_cpu``,
``srgan_x4_cpu``: channels_last, data held in memory) for a few steps per configuration in a temporary
folder and reports HR patches per second (first step excluded: warm-up; compile time is in ``wall s``),
the speed-up over fp32 eager, as a table and JSON. Not a test: numbers depend on the device and on what
else runs on it; run it on an idle machine.

    python benchmarks/sr_training_throughput.py --data DIR [DIR...]            # fp32 and bf16, both kinds
    python benchmarks/sr_training_throughput.py --data DIR --compile --kinds srresnet --steps 30
    python benchmarks/sr_training_throughput.py --data DIR --feeds loader resident   # DataLoader vs in-memory
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

RECIPES = {"srresnet": "srresnet_x4_cpu", "srgan": "srgan_x4_cpu"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", required=True, help="HR training folders")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=12, help="steps per configuration (the first is not timed)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=96)
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader workers of the 'loader' feed")
    p.add_argument("--kinds", nargs="+", default=["srresnet", "srgan"], choices=sorted(RECIPES))
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    p.add_argument("--feeds", nargs="+", default=["resident"], choices=["loader", "resident"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile (inductor) per precision")
    p.add_argument("--json", default="benchmarks/results/sr_training_throughput.json", help="where the JSON goes")
    args = p.parse_args(argv)

    from pathlib import Path

    from restore.device import describe_device, resolve_device
    from restore.io import atomic_write_bytes
    from restore.training.engine import load_recipe
    from restore.training.sr import train

    device = resolve_device(args.device)
    rows = []
    for kind in args.kinds:
        for feed in args.feeds:
            for precision in args.precisions:
                for compiled in ([False, True] if args.compile else [False]):
                    recipe = load_recipe(RECIPES[kind], {
                        "steps": args.steps, "batch_size": args.batch_size, "patch_size": args.patch_size,
                        "precision": precision, "compile": compiled, "memory_resident": feed == "resident",
                        "num_workers": args.num_workers if feed == "loader" else 0,
                        "log_every": 10**9, "val_every": 10**9, "ckpt_every": 10**9,
                        "val_minutes": 0, "ckpt_minutes": 0})
                    with tempfile.TemporaryDirectory() as out:
                        t0 = time.perf_counter()
                        result = train(recipe, data=args.data, out=out, device=device, progress_bar=False)
                        wall = time.perf_counter() - t0
                    rows.append({"kind": kind, "feed": feed, "precision": precision, "compile": compiled,
                                 "patches_per_s": round(result["patches_per_s"], 2),
                                 "steps_per_s": round(result["patches_per_s"] / args.batch_size, 3),
                                 "wall_s": round(wall, 1)})
                    print(f"{kind:9s} {feed:9s} {precision:5s} {'compile' if compiled else 'eager':8s} "
                          f"{rows[-1]['patches_per_s']:8.2f} patches/s", file=sys.stderr)
    for r in rows:  # speed-up over the fp32 eager row of the same kind and feed
        base = next((b for b in rows if (b["kind"], b["feed"], b["precision"], b["compile"])
                     == (r["kind"], r["feed"], "fp32", False)), None)
        r["speedup_vs_fp32"] = round(r["patches_per_s"] / base["patches_per_s"], 2) if base else None

    name = describe_device(device)
    print(f"\nSR training throughput on {name} (recipes {', '.join(RECIPES[k] for k in args.kinds)}; batch "
          f"{args.batch_size} of {args.patch_size}² HR crops, x4; {args.steps} steps each, the first untimed)")
    print("| kind | feed | precision | compile | HR patches/s | steps/s | vs fp32 | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['speedup_vs_fp32']:.2f}×" if r["speedup_vs_fp32"] else "–"
        print(f"| {r['kind']} | {r['feed']} | {r['precision']} | {'yes' if r['compile'] else 'no'} | "
              f"{r['patches_per_s']:.2f} | {r['steps_per_s']:.3f} | {ratio} | {r['wall_s']:.1f} |")
    report = {"device": name, "config": {k: v for k, v in vars(args).items() if k != "json"}, "results": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode(), overwrite=True)
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
