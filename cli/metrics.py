"""``restore metrics REF TEST``: PSNR, SSIM and (offline) LPIPS between two images or two folders.

Folders are matched by file name; images present on one side only are listed and skipped. Colour
planes are compared (alpha is ignored); a gray image against a colour one is compared as colour.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from restore.cli.options import add_device, number


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "metrics", help="PSNR / SSIM / LPIPS between two images or two folders",
        description="Compare TEST against REF. With --y-channel and --crop-border N you get the SR "
                    "literature's protocol (BT.601 luma, N pixels dropped per side).")
    parser.add_argument("ref", metavar="REF", help="reference image or folder (ground truth)")
    parser.add_argument("test", metavar="TEST", help="image or folder to evaluate")
    parser.add_argument("--y-channel", action="store_true", help="compare BT.601 luma (MATLAB rgb2ycbcr)")
    parser.add_argument("--crop-border", type=number(int, low=0), default=0, metavar="N", help="drop N pixels on each side")
    parser.add_argument("--lpips", action="store_true", help="also compute LPIPS (offline weights)")
    parser.add_argument("--lpips-net", choices=["alex", "vgg"], default="alex")
    add_device(parser)
    parser.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16", "fp16"],
                        help="LPIPS network precision (default fp32, so reported values are exact; "
                             "auto = bf16 where the device has bf16 units, ~1e-3 faster-but-rounded)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--suffix", action="append", metavar="S",
                        help="folders: strip S from the test files' stems before matching (repeatable; "
                             "default: restore's own suffixes _x<N> and _inpainted)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tqdm.auto import tqdm

    from restore.device import resolve_device, resolve_precision
    from restore.errors import RestoreError
    from restore.metrics import LPIPS
    from restore.metrics.pairs import match_pairs, score_pair

    pairs, unmatched = match_pairs(Path(args.ref), Path(args.test), args.suffix)
    renamed = [(r.name, t.name) for r, t in pairs if r.name != t.name]
    if renamed and Path(args.ref).is_dir():
        print(f"restore metrics: {len(pairs)} pair(s) matched by stem, e.g. {renamed[0][0]} <-> {renamed[0][1]}",
              file=sys.stderr)
    device = resolve_device(args.device)
    dtype = resolve_precision(args.precision, device)
    lpips_model = LPIPS(args.lpips_net, crop_border=args.crop_border).to(device) if args.lpips else None
    rows, failed = [], 0
    for ref_path, test_path in tqdm(pairs, desc="metrics", disable=len(pairs) < 2, leave=False):
        try:
            rows.append(score_pair(ref_path, test_path, y_channel=args.y_channel, crop_border=args.crop_border,
                                   lpips_model=lpips_model, device=device, dtype=dtype))
        except RestoreError as exc:
            if len(pairs) == 1:
                raise
            failed += 1  # one bad pair in a folder: say so, score the rest, exit 1
            print(f"restore: error: {exc}", file=sys.stderr)
    if not rows:
        raise RestoreError(f"none of the {len(pairs)} pairs could be scored")
    status = 1 if failed else 0

    keys = [k for k in ("psnr", "ssim", "lpips") if k in rows[0]]
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    protocol = {"y_channel": args.y_channel, "crop_border": args.crop_border,
                "lpips_net": args.lpips_net if args.lpips else None}
    if args.json:
        # JSON has no Infinity: identical images (PSNR = inf) are written as null with "identical": true.
        def finite(r):
            return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} | (
                {"identical": True} if math.isinf(r.get("psnr", 0.0)) else {})

        print(json.dumps({"protocol": protocol, "images": [finite(r) for r in rows], "mean": finite(mean),
                          "unmatched": unmatched, "failed": failed}, indent=2, allow_nan=False))
        return status
    for name in unmatched:
        print(f"skipped (no counterpart): {name}")
    width = max(len("mean"), *(len(r["image"]) for r in rows))
    header = f"{'image':<{width}}  {'PSNR (dB)':>9}  {'SSIM':>6}" + ("  LPIPS" if "lpips" in keys else "")
    print(header)
    print("-" * len(header))

    def fmt(r):
        p = "inf" if math.isinf(r["psnr"]) else f"{r['psnr']:.2f}"
        line = f"{r['image'] if 'image' in r else 'mean':<{width}}  {p:>9}  {r['ssim']:>6.4f}"
        return line + (f"  {r['lpips']:.4f}" if "lpips" in r else "")

    for r in rows:
        print(fmt(r))
    if len(rows) > 1:
        print("-" * len(header))
        print(fmt(dict(mean, image=f"mean ({len(rows)})")))
    space = "Y (BT.601)" if args.y_channel else "RGB"
    print(f"[{space}, crop border {args.crop_border}" + (f", LPIPS {args.lpips_net}" if args.lpips else "") + "]")
    return status

