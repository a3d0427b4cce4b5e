"""Training throughput of SRResNet and SRGAN steps, DataLoader pipeline vs GPU-resident data.

Runs the real training loop (:func:`restore.training.sr.train`) for a few steps per configuration in a
temporary folder and reports HR patches per second (first step excluded: warm-up), as a table and JSON.
Not a test: numbers depend on the device and on what else runs on it.

    python benchmarks/sr_training_throughput.py --data DIR [DIR...] --steps 20 --json runs/bench_sr.json
    python benchmarks/sr_training_throughput.py --data DIR --device cpu --steps 4 --kinds srresnet
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", required=True, help="HR training folders")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=20, help="steps per configuration (the first is not timed)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=96)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--num-blocks", type=int, default=16)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--num-workers", type=int, default=4)
    p.add_argument("--kinds", nargs="+", default=["srresnet", "srgan"], choices=["srresnet", "srgan"])
    p.add_argument("--feeds", nargs="+", default=["loader", "resident"], choices=["loader", "resident"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--json", default="runs/bench_sr_training_throughput.json", help="where the JSON goes")
    args = p.parse_args(argv)

    from pathlib import Path

    from restore.device import resolve_device
    from restore.io import atomic_write_bytes
    from restore.device import describe_device
    from restore.training.engine import load_recipe
    from restore.training.sr import train

    device = resolve_device(args.device)
    rows = []
    for kind in args.kinds:
        for feed in args.feeds:
            recipe = load_recipe("srgan_x4" if kind == "srgan" else "srresnet_x4", {
                "scale": args.scale, "steps": args.steps, "batch_size": args.batch_size,
                "patch_size": args.patch_size, "num_blocks": args.num_blocks, "channels": args.channels,
                "num_workers": args.num_workers, "memory_resident": feed == "resident", "compile": args.compile,
                "log_every": 10**9, "val_every": 10**9, "ckpt_every": 10**9})
            with tempfile.TemporaryDirectory() as out:
                t0 = time.perf_counter()
                result = train(recipe, data=args.data, out=out, device=device, progress_bar=False)
                wall = time.perf_counter() - t0
            rows.append({"kind": kind, "feed": feed, "patches_per_s": round(result["patches_per_s"], 2),
                         "steps_per_s": round(result["patches_per_s"] / args.batch_size, 3),
                         "wall_s": round(wall, 1)})
            print(f"{kind:9s} {feed:9s} {rows[-1]['patches_per_s']:9.2f} patches/s", file=sys.stderr)

    name = describe_device(device)
    print(f"\nSR training throughput on {name} (batch {args.batch_size}, HR patch {args.patch_size}, "
          f"x{args.scale}, {args.num_blocks} blocks x {args.channels} ch, {args.steps} steps, first untimed)")
    print(f"| {'kind':9s} | {'feed':9s} | {'HR patches/s':>12s} | {'steps/s':>8s} | {'wall s':>7s} |")
    print(f"|{'-' * 11}|{'-' * 11}|{'-' * 14}|{'-' * 10}|{'-' * 9}|")
    for r in rows:
        print(f"| {r['kind']:9s} | {r['feed']:9s} | {r['patches_per_s']:12.2f} | {r['steps_per_s']:8.3f} | {r['wall_s']:7.1f} |")
    report = {"device": name, "config": {k: v for k, v in vars(args).items() if k != "json"}, "results": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode(), overwrite=True)
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
