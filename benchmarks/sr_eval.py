"""Super-resolution quality of shipped (or local) models against bicubic, the SR literature's way.

For every image of ``--val`` (default: Sun-Hays 80): HR mod-cropped to the scale, LR made by restore's
MATLAB-style bicubic (:func:`restore.data.degradation.degrade`, as in training), then bicubic
upscaling and each model through :class:`restore.pipelines.SuperResolver` (the path ``restore sr``
takes). Scores: PSNR and SSIM on the Y channel (BT.601) with a border of ``scale`` pixels cropped,
and LPIPS (AlexNet, v0.1) on RGB with the same crop.

``--precisions fp32 bf16`` scores every model in both precisions (the shipped-model check: bf16 must
stay within 0.05 dB of fp32). ``--figure`` saves crops: bicubic | each model | truth.

Usage:
    python benchmarks/sr_eval.py                                    # every shipped x4 model, all 80 images
    python benchmarks/sr_eval.py --models srresnet-x4 runs/x/srresnet_x4.safetensors --limit 20
    python benchmarks/sr_eval.py --scale 2 --precisions fp32 bf16

Prints a table and writes ``benchmarks/results/sr_eval_x<scale>.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

DEFAULT_VAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sr" / "val" / "sun_hays80"


def sr_scores(sr: torch.Tensor, hr: torch.Tensor, scale: int) -> dict:
    from restore.metrics import lpips, psnr, ssim

    return {"psnr_y": float(psnr(sr, hr, crop_border=scale, y_channel=True)[0]),
            "ssim_y": float(ssim(sr, hr, crop_border=scale, y_channel=True)[0]),
            "lpips": float(lpips(sr, hr, crop_border=scale)[0])}


def _centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return x[..., top:top + size, left:left + size]


def main(argv: list[str] | None = None) -> dict:
    from restore.data.degradation import imresize
    from restore.data.sr import load_validation
    from restore.device import describe_device, resolve_device
    from restore.io import write_image
    from restore.pipelines import SuperResolver
    from restore.registry import list_models

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="registry names or .safetensors files (default: shipped models of --scale)")
    ap.add_argument("--scale", type=int, default=4, choices=[2, 4, 8])
    ap.add_argument("--val", default=str(DEFAULT_VAL), help="folder of HR validation images")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0 = all)")
    ap.add_argument("--precisions", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16", "fp16"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--figure", help="PNG of centre crops: bicubic | models | truth (first 4 images)")
    ap.add_argument("--crop", type=int, default=160, help="side of the figure's HR crops")
    ap.add_argument("--figure-precision", choices=["auto", "fp32", "bf16", "fp16"],
                    help="only this precision's outputs in the figure (one column per model)")
    ap.add_argument("--per-image", action="store_true", help="keep every image's scores in the JSON (not committed)")
    ap.add_argument("--out", help="JSON path (default benchmarks/results/sr_eval_x<scale>.json)")
    args = ap.parse_args(argv)

    models = args.models or [e.name for e in list_models("sr") if e.scale == args.scale]
    if not models:
        ap.error(f"no shipped x{args.scale} model; pass --models")
    device = resolve_device(args.device)
    pairs = load_validation(args.val, args.scale, max_images=args.limit or None)
    print(f"{len(pairs)} images from {args.val}, x{args.scale}, device {describe_device(device)}")

    methods: dict[str, tuple] = {"bicubic": (None, None)}
    for name in models:
        for precision in args.precisions:
            resolver = SuperResolver.from_pretrained(name, device=device, precision=precision, scale=args.scale)
            label = resolver.name if len(args.precisions) == 1 else f"{resolver.name} ({precision})"
            methods[label] = (resolver, precision)

    per_image: dict[str, list[dict]] = {m: [] for m in methods}
    seconds: dict[str, float] = {m: 0.0 for m in methods}
    crops = []
    for i, (name, hr, lr) in enumerate(pairs):
        row = [_centre_crop(imresize(lr, args.scale).clamp(0, 1), args.crop)]
        for label, (resolver, _) in methods.items():
            began = time.perf_counter()
            sr = imresize(lr, args.scale).clamp(0, 1) if resolver is None else resolver(lr)
            seconds[label] += time.perf_counter() - began
            per_image[label].append(dict(sr_scores(sr, hr, args.scale), image=name))
            if label != "bicubic" and args.figure_precision in (None, methods[label][1]):
                row.append(_centre_crop(sr, args.crop))
        row.append(_centre_crop(hr, args.crop))
        if i < 4:
            crops.append(torch.cat(row, dim=-1))
        print(f"  {i + 1}/{len(pairs)} {name}: " + ", ".join(
            f"{m} {per_image[m][-1]['psnr_y']:.2f}" for m in methods), flush=True)

    summary = {}
    for label, rows in per_image.items():
        n = len(rows)
        summary[label] = {k: round(sum(r[k] for r in rows) / n, 4) for k in ("psnr_y", "ssim_y", "lpips")}
        summary[label]["s_per_image"] = round(seconds[label] / n, 3)
    print(f"\n| method | Y-PSNR (dB) | Y-SSIM | LPIPS (alex) | s/image |\n|---|---|---|---|---|")
    for label, s in summary.items():
        print(f"| {label} | {s['psnr_y']:.2f} | {s['ssim_y']:.4f} | {s['lpips']:.4f} | {s['s_per_image']:.2f} |")

    import shlex
    import sys

    command = "python benchmarks/sr_eval.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    result = {"command": command, "val": str(args.val), "images": len(pairs), "scale": args.scale, "device": describe_device(device),
              "protocol": f"Y channel (BT.601), border {args.scale} cropped; LR by restore.data.degradation.degrade; "
                          "LPIPS alex v0.1 on RGB",
              "models": models, "summary": summary}
    if args.per_image:
        result["per_image"] = per_image
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"sr_eval_x{args.scale}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    if args.figure:
        width = max(c.shape[-1] for c in crops)
        crops = [torch.nn.functional.pad(c, (0, width - c.shape[-1])) for c in crops]
        write_image(args.figure, torch.cat(crops, dim=-2), overwrite=True)
        shown = [m for m, (r, p) in methods.items() if r is not None and args.figure_precision in (None, p)]
        print(f"wrote {args.figure} (columns: bicubic | {' | '.join(shown)} | truth)")
    return result


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
