"""How a face fill comes back to the photo's resolution: restore's SR vs bicubic, on the held-out faces.

A face in a photo is filled at the prior's 64x64 and brought back to the face's size. With no high-resolution
faces to check against, the same step is measured one octave down, where the truth is known: each held-out
64x64 face is brought to 32x32 the way the crop path brings a crop to the prior (antialiased bilinear), then
back to 64x64 by bicubic and by each shipped x2 model (and x4, resized 128 -> 64), and compared with the
true face: PSNR / SSIM / LPIPS over the whole face and PSNR inside the centre 32x32 (where a centre hole's
fill would be). This isolates the return step; the fill itself is not involved.

Example:
    python benchmarks/face_upscale.py --limit 1000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "data" / "faces64" / "celeba64_train.tar.gz"
RESULTS = ROOT / "benchmarks" / "results" / "face_upscale.json"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1000, help="the first N held-out faces")
    ap.add_argument("--models", nargs="+", default=["srresnet-x2", "srresnet-x4"])
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    if not FACES.exists():
        raise SystemExit(f"face_upscale: the CelebA crops not found at {FACES} (see ../shared/data/README.md)")
    from restore.data.degradation import resize
    from restore.data.generative import load_generative_data
    from restore.io import atomic_write_bytes
    from restore.metrics import lpips, psnr, ssim
    from restore.pipelines.super_resolution import SuperResolver

    truth = load_generative_data(str(FACES), resolution=64, channels=3, split="heldout",
                                 limit=args.limit).batch(slice(None))
    small = resize(truth, 32, "bilinear")
    ways = {"bicubic": lambda x: resize(x, 64, "bicubic")}
    for name in args.models:
        sr = SuperResolver.from_pretrained(name, device="cpu")
        ways[name] = lambda x, sr=sr: resize(sr(x).clamp(0, 1), 64)
    rows = {}
    for name, way in ways.items():
        with torch.no_grad():
            back = torch.cat([way(small[i:i + 100]) for i in range(0, len(small), 100)])
        centre = (back - truth)[..., 16:48, 16:48].pow(2).flatten(1).mean(1)
        rows[name] = {"psnr": round(float(psnr(back, truth).mean()), 3), "ssim": round(float(ssim(back, truth).mean()), 4),
                      "lpips": round(float(lpips(back, truth).mean()), 4),
                      "psnr_centre": round(float((10 * torch.log10(1 / centre.clamp_min(1e-10))).mean()), 3)}
        print(f"{name:12s} PSNR {rows[name]['psnr']:.2f}  SSIM {rows[name]['ssim']:.4f}  LPIPS {rows[name]['lpips']:.4f}"
              f"  centre PSNR {rows[name]['psnr_centre']:.2f}", file=sys.stderr)
    result = {"faces": len(truth), "protocol": "64 -> 32 (antialiased bilinear) -> 64; against the true 64x64",
              "results": rows, "command": " ".join(["python", "benchmarks/face_upscale.py", *(argv or sys.argv[1:])])}
    atomic_write_bytes(Path(args.out), (json.dumps(result, indent=1) + "\n").encode(), overwrite=True)
    return result


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
