"""Resident memory of a long CPU latent search, with and without handing freed heap pages back.

A ``faces64-dcgan`` search (``--images`` x ``--restarts`` codes, centre hole, bf16) runs ``--steps`` steps
twice: with :func:`restore.device.release_host_memory` every ``semantic.TRIM_EVERY`` steps (the library's
behaviour) and with it disabled. Prints the RSS every 50 steps and the wall time of each; writes JSON.

Usage:
    python benchmarks/search_memory.py --images 2 --restarts 32 --steps 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch


def rss_gb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e9


def main(argv=None) -> int:
    from restore.inpainting import semantic
    from restore.io import atomic_write_bytes
    from restore.pipelines.priors import load_prior, search_network

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2)
    p.add_argument("--restarts", type=int, default=32)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--out", default="benchmarks/results/search_memory_cpu.json")
    args = p.parse_args(argv)

    gan = search_network(load_prior("faces64-dcgan", "gan")[0], torch.device("cpu"))
    y = torch.rand(args.images, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    known = torch.ones(args.images, 1, 64, 64)
    known[..., 16:48, 16:48] = 0
    runs, every = {}, semantic.TRIM_EVERY
    for label, trim_every in (("trimmed", every), ("untrimmed", 10 ** 9)):
        semantic.TRIM_EVERY, rss = trim_every, {}
        t0 = time.perf_counter()
        semantic.gan_search(gan, y, known, steps=args.steps, restarts=args.restarts, dtype=torch.bfloat16,
                            callback=lambda s: rss.__setitem__(s, round(rss_gb(), 3)) if s % 50 == 0 else None)
        runs[label] = {"seconds": round(time.perf_counter() - t0, 1), "rss_gb_by_step": rss}
        print(f"{label:9s} {runs[label]['seconds']:6.1f} s  RSS " + ", ".join(f"{s}: {v:.2f} GB" for s, v in rss.items()))
    semantic.TRIM_EVERY = every
    record = {"codes": args.images * args.restarts, "steps": args.steps, "trim_every": every, "runs": runs,
              "command": " ".join(["python", "benchmarks/search_memory.py", *sys.argv[1:]])}
    atomic_write_bytes(Path(args.out), (json.dumps(record, indent=1) + "\n").encode(), overwrite=True)
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
