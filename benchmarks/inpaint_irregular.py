"""Inpainting with irregular holes, binned by hole ratio: the field's protocol (Liu et al. 2018), on faces and scenes.

Masks: NVIDIA's irregular test masks (``../shared/data/masks/nvidia_irregular``, 512x512 PNG, white = hole,
CC BY-NC-SA 4.0), 400 per hole-ratio bin (1-10%, 10-20%, ..., 50-60%), resized to each image by nearest
neighbour. Image ``i`` gets mask ``i mod 400`` of each bin, so every method sees the same holes.

Data (read in place, never copied into the repository):
  * ``faces``: the held-out CelebA crops (the last 1,000 of ``faces64/celeba64_train.tar.gz``), 64x64;
  * ``scenes``: Sun-Hays 80 (``sr/val/sun_hays80``, long side 1024) and the BSDS500 test split
    (``sr/train/bsds500_test``, 481x321), at their own size. (BSDS500 test is in the SR training set; no
    inpainting prior here is trained on it.)

Methods: every classical method (:data:`restore.inpainting.methods.CLASSICAL_METHODS`), ``auto`` (what
``restore inpaint`` does by default) and, on faces, the prior methods (``gan``, ``gan-vae-init``, ...).

Metrics per (data, bin, method): PSNR, SSIM and LPIPS (AlexNet) over the whole image, as the literature
reports them, the mean hole ratio, and seconds per image (wall time of the fill: one image at a time for
scenes, batches for faces).

Example:
    python benchmarks/inpaint_irregular.py --data faces --limit 200 --methods telea,fsr-fast,auto
    python benchmarks/inpaint_irregular.py --data scenes --limit 20 --methods telea,ns,fsr-fast,auto
    python benchmarks/inpaint_irregular.py --table  # the Markdown table of what the JSON holds

Writes ``benchmarks/results/inpaint_irregular.json`` (merged: one entry per data / bin / method) and, with
``--figure PATH``, one row per dataset (the 20-30% bin): masked | methods | truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MASKS = SHARED / "masks" / "nvidia_irregular"
FACES = SHARED / "faces64" / "celeba64_train.tar.gz"
SCENES = (SHARED / "sr" / "val" / "sun_hays80", SHARED / "sr" / "train" / "bsds500_test")
RESULTS = ROOT / "benchmarks" / "results" / "inpaint_irregular.json"
#: (label, first mask index) of each hole-ratio bin; 400 masks each
BINS = (("1-10%", 0), ("10-20%", 2000), ("20-30%", 4000), ("30-40%", 6000), ("40-50%", 8000), ("50-60%", 10000))
MASKS_PER_BIN = 400
PRIOR_METHODS = ("gan", "vae", "gan-vae-init")


def need(path: Path, what: str) -> Path:
    """``path``, or exit with one line saying what is missing and where it comes from."""
    if not path.exists():
        raise SystemExit(f"inpaint_irregular: {what} not found at {path} (see ../shared/data/README.md; "
                         "the sources are listed in docs/training.md)")
    return path


def load_mask(bin_start: int, i: int, size: tuple[int, int]) -> torch.Tensor:
    """The known map ``(1, 1, H, W)`` (1 = known) of image ``i`` in the bin starting at ``bin_start``."""
    import cv2

    path = need(MASKS / f"{bin_start + i % MASKS_PER_BIN:05d}.png", "the irregular masks")
    hole = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127  # white = hole
    h, w = size
    hole = cv2.resize(hole.astype("uint8"), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return torch.from_numpy(~hole).float()[None, None]


def load_images(data: str, limit: int | None) -> list[tuple[str, torch.Tensor]]:
    """``[(name, (1, 3, H, W) in [0, 1])]``: faces (the first ``limit`` held out) or scenes (the first
    ``limit`` of each scene folder)."""
    if data == "faces":
        from restore.data.generative import load_generative_data

        faces = load_generative_data(str(need(FACES, "the CelebA crops")), resolution=64, channels=3,
                                     split="heldout", limit=limit)
        batch = faces.batch(slice(None))
        return [(f"face{i:04d}", batch[i:i + 1]) for i in range(batch.shape[0])]
    from restore.io import is_image_file, read_image

    images = []
    for folder in SCENES:
        files = sorted(p for p in need(folder, f"the scene photos ({folder.name})").iterdir() if is_image_file(p))
        for path in files[:limit]:
            x = read_image(path).tensor
            images.append((f"{folder.name}/{path.stem}", x.expand(1, 3, *x.shape[-2:]) if x.shape[1] == 1 else x))
    return images


def make_inpainter(method: str, device: str):
    from restore.pipelines.inpainting import AutoInpainter, Inpainter

    if method == "auto":
        return AutoInpainter(device=device)
    if method in PRIOR_METHODS:
        return Inpainter.from_pretrained("faces64-dcgan" if method != "vae" else "faces64-vae", method, device=device)
    return Inpainter(method, device=device)


def scores(out: torch.Tensor, truth: torch.Tensor) -> dict[str, list[float]]:
    """Per image: PSNR, SSIM and LPIPS over the whole image (known pixels are the input's, for every method)."""
    from restore.metrics import lpips, psnr, ssim

    out = out.clamp(0, 1)
    return {"psnr": psnr(out, truth).tolist(), "ssim": ssim(out, truth).tolist(), "lpips": lpips(out, truth).tolist()}


def evaluate(data: str, images, method: str, device: str, batch: int, progress: bool) -> dict:
    """One row per bin for ``method``: mean scores, hole ratio, seconds per image, and the choices of auto."""
    inpainter = make_inpainter(method, device)
    rows, examples = {}, {}
    for label, start in BINS:
        sums: dict[str, list[float]] = {"psnr": [], "ssim": [], "lpips": [], "hole": []}
        seconds, choices = 0.0, {}
        step = batch if data == "faces" else 1  # scenes differ in size: one at a time
        for first in range(0, len(images), step):
            group = images[first:first + step]
            truth = torch.cat([x for _, x in group])
            known = torch.cat([load_mask(start, first + j, tuple(x.shape[-2:])) for j, (_, x) in enumerate(group)])
            t0 = time.perf_counter()
            out = inpainter.inpaint(truth * known, known)  # the hole's content is hidden from every method
            seconds += time.perf_counter() - t0
            for key, values in scores(out, truth).items():
                sums[key].extend(values)
            sums["hole"].extend((1 - known).flatten(1).mean(1).tolist())
            if method == "auto":
                for info in inpainter.last_info:
                    choices[info["method"]] = choices.get(info["method"], 0) + 1
            if label == "20-30%" and not examples:
                examples = {"masked": (truth * known)[:1], "out": out[:1], "truth": truth[:1]}
        n = len(sums["psnr"])
        rows[label] = {k: round(sum(v) / n, 4) for k, v in sums.items()} | {
            "n": n, "s_per_image": round(seconds / n, 4), **({"auto_choices": choices} if choices else {})}
        if progress:
            r = rows[label]
            print(f"  {data:6s} {label:7s} {method:12s} PSNR {r['psnr']:.2f}  SSIM {r['ssim']:.4f}  "
                  f"LPIPS {r['lpips']:.4f}  hole {r['hole']:.3f}  {r['s_per_image']:.3f} s/img", file=sys.stderr, flush=True)
    return {"bins": rows, "example": examples}


def markdown(results: dict) -> str:
    """Per data set: LPIPS (and PSNR) by bin and method, the lowest LPIPS per bin in bold."""
    lines = []
    for data, by_method in results.items():
        if data.startswith("_"):
            continue
        methods = list(by_method)
        labels = [label for label, _ in BINS]
        lines += [f"**{data}** (n = {next(iter(by_method.values()))['bins'][labels[0]]['n']} per bin): "
                  "LPIPS / PSNR (dB), whole image; lower LPIPS is better", "",
                  "| method | " + " | ".join(labels) + " | s/img (30-40%) |", "|---" * (len(labels) + 2) + "|"]
        best = {label: min(by_method[m]["bins"][label]["lpips"] for m in methods) for label in labels}
        for m in methods:
            cells = []
            for label in labels:
                r = by_method[m]["bins"][label]
                lp = f"{r['lpips']:.3f}"
                cells.append(f"{'**' + lp + '**' if r['lpips'] == best[label] else lp} / {r['psnr']:.2f}")
            lines.append(f"| {m} | " + " | ".join(cells) + f" | {by_method[m]['bins']['30-40%']['s_per_image']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def figure(images: list[torch.Tensor], path: str, height: int = 192) -> None:
    """``(1, 3, H, W)`` images side by side, each resized to ``height`` (antialiased), written atomically."""
    from restore.data.degradation import resize
    from restore.io import write_image

    gap = torch.ones(1, 3, height, 4)
    parts = [resize(x, (height, max(1, round(x.shape[-1] * height / x.shape[-2])))) for x in images]
    write_image(path, torch.cat([t for p in parts for t in (p, gap)], -1), overwrite=True)


def main(argv: list[str] | None = None) -> dict:
    from restore.inpainting.methods import CLASSICAL_METHODS

    choices = ("auto", *CLASSICAL_METHODS, *PRIOR_METHODS)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("faces", "scenes"), default="faces")
    ap.add_argument("--methods", default="telea,fsr-fast,auto", help=f"comma list of {', '.join(choices)}")
    ap.add_argument("--limit", type=int, default=None, help="faces: the first N held out; scenes: N per folder")
    ap.add_argument("--batch", type=int, default=50, help="faces filled together")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--figure", default=None, help="also write the 20-30%% examples: masked | methods | truth")
    ap.add_argument("--table", action="store_true", help="print the Markdown table of --out and stop")
    args = ap.parse_args(argv)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.table:
        print(markdown(results))
        return results
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in choices:
            ap.error(f"unknown method {m!r} (use {', '.join(choices)})")
        if m in PRIOR_METHODS and args.data != "faces":
            ap.error(f"{m} is a 64x64 face prior: use it with --data faces (scenes get it through auto)")
    images = load_images(args.data, args.limit)
    print(f"inpaint_irregular: {len(images)} {args.data} images x {len(BINS)} bins", file=sys.stderr)
    examples = []
    for m in methods:
        measured = evaluate(args.data, images, m, args.device, args.batch, progress=True)
        example = measured.pop("example")
        if not examples:
            examples += [example["masked"], example["truth"]]
        examples.insert(-1, example["out"])
        measured["command"] = " ".join(["python", "benchmarks/inpaint_irregular.py", *(argv or sys.argv[1:])])
        measured["images"] = len(images)
        results.setdefault(args.data, {})[m] = measured
    results["_protocol"] = {"masks": "NVIDIA irregular test masks, 400 per bin, nearest resize; image i: mask i mod 400",
                            "metrics": "whole-image PSNR / SSIM / LPIPS (alex)",
                            "device": "CPU (2 cores)" if args.device == "cpu" else args.device}
    out.parent.mkdir(parents=True, exist_ok=True)
    from restore.io import atomic_write_bytes

    atomic_write_bytes(out, (json.dumps(results, indent=1) + "\n").encode(), overwrite=True)
    if args.figure:
        figure(examples, args.figure)
    print(markdown({args.data: results[args.data]}))
    return results


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
