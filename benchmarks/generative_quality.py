"""Quality of the generative priors without internet: FAD-Alex and the VAE's held-out ELBO.

FAD-Alex is the Fréchet distance between AlexNet (ImageNet, offline LPIPS backbone) conv5 features of
N generated images and the held-out real images (restore.metrics.frechet); it is not the FID.
A "real vs real" row (N training images against the same held-out set) gives the floor to read the
model figures against. For a VAE, the held-out ELBO (discretised-Gaussian likelihood) is reported in
nats per image and bits per dimension.

Usage:
    python benchmarks/generative_quality.py fashion-dcgan fashion-vae -n 10000 --json gen_quality.json
    python benchmarks/generative_quality.py runs/faces-vae/faces-vae.safetensors --data faces.tar.gz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch


def main(argv=None) -> int:
    from restore.data.generative import load_generative_data
    from restore.errors import RestoreError
    from restore.io import atomic_write_bytes
    from restore.losses.generative import heldout_elbo
    from restore.metrics.frechet import alexnet_features, feature_statistics, frechet_distance
    from restore.pipelines.sampling import Sampler

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="registered names or .safetensors files (dcgan / vae)")
    ap.add_argument("-n", "--num", type=int, default=10000, help="generated images per model (default 10000)")
    ap.add_argument("--data", default="fashion-mnist", help="dataset of the held-out split (default fashion-mnist)")
    ap.add_argument("--holdout", type=int, default=1000, help="image folders: the last N images are held out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=128, help="resize before AlexNet (default 128)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default="generative_quality.json", help="where to write the results")
    args = ap.parse_args(argv)
    try:
        samplers = [Sampler.from_pretrained(m, device=args.device) for m in args.models]
        res = {s.model.resolution for s in samplers}
        ch = {s.model.channels for s in samplers}
        if len(res) != 1 or len(ch) != 1:
            raise RestoreError("models must share one resolution and channel count to share the real set")
        res, ch = res.pop(), ch.pop()
        heldout = load_generative_data(args.data, resolution=res, channels=ch, split="heldout", holdout=args.holdout)
        train = load_generative_data(args.data, resolution=res, channels=ch, split="train", holdout=args.holdout)
    except RestoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    t0 = time.time()
    real_stats = feature_statistics(alexnet_features(heldout.batch(slice(None)), size=args.size, device=args.device))
    n_ref = min(args.num, len(train))
    ref_idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed))[:n_ref]
    ref = frechet_distance(*feature_statistics(alexnet_features(train.batch(ref_idx), size=args.size,
                                                                device=args.device)), *real_stats)
    rows = [{"model": "real (train) vs held-out", "n": n_ref, "fad_alex": ref}]
    for name, s in zip(args.models, samplers):
        t = time.time()
        fake = s.sample(args.num, seed=args.seed)
        row = {"model": str(name), "arch": s.info["arch"], "n": args.num,
               "fad_alex": frechet_distance(*feature_statistics(alexnet_features(fake, size=args.size,
                                                                                 device=args.device)), *real_stats)}
        if s.is_vae:
            row.update({f"elbo_{k}": v for k, v in heldout_elbo(s.model, heldout, device=args.device).items()})
        row["seconds"] = round(time.time() - t, 1)
        rows.append(row)

    print(f"held-out set: {heldout.source}, {len(heldout)} images; features: AlexNet conv5 at {args.size}px")
    width = max(len(r["model"]) for r in rows)
    print(f"{'model':<{width}} {'N':>6} {'FAD-Alex':>9} {'-ELBO nats/img':>15} {'bits/dim':>9}")
    for r in rows:
        elbo = f"{r['elbo_neg_elbo_nats']:.1f}" if "elbo_neg_elbo_nats" in r else "-"
        bpd = f"{r['elbo_bits_per_dim']:.4f}" if "elbo_bits_per_dim" in r else "-"
        print(f"{r['model']:<{width}} {r['n']:>6} {r['fad_alex']:>9.3f} {elbo:>15} {bpd:>9}")
    result = {"metric": "FAD-Alex: Frechet distance on ImageNet-AlexNet conv5 features (not FID)",
              "heldout": heldout.source, "heldout_images": len(heldout), "size": args.size, "seed": args.seed,
              "device": str(args.device), "seconds": round(time.time() - t0, 1), "rows": rows}
    atomic_write_bytes(Path(args.json), (json.dumps(result, indent=2) + "\n").encode(), overwrite=True)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
