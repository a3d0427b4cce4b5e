"""Real-world x4 SR benchmark: Sun-Hays 80 with fixed, seeded degradations of the bicubic LR.

For every HR image (mod-cropped to 4; ``--max-side`` centre-crops it first) the clean LR is restore's
MATLAB bicubic (:func:`restore.data.degradation.degrade`); each degradation of
:data:`restore.data.realistic.BENCHMARK_DEGRADATIONS` is then applied with the image's index as seed:
JPEG q30/50/70/90 (libjpeg), Gaussian noise sigma 5/10/15, and two blur + noise + JPEG combinations.
Every model runs through :class:`restore.pipelines.SuperResolver` (what ``restore sr`` runs), bicubic
through :func:`restore.data.degradation.imresize`. Scores: Y-PSNR and Y-SSIM (BT.601, border 4) and LPIPS
(alex v0.1, RGB, border 4).

The ``auto`` column is what ``restore sr --model auto`` picks for each input
(:func:`restore.pipelines.sr_auto.choose_sr_model` on the LR's pixels, plus the JPEG quality a file saved
that way carries in its quantisation table), scored with the chosen model's output. Each input's
measures (JPEG quality, blockiness, noise estimate) are kept in the JSON, so thresholds can be checked
against the scores (``--calibrate`` prints, per measure, the PSNR gain of the real-world model).

Usage:
    python benchmarks/sr_real.py                                       # all 80 images, every condition
    python benchmarks/sr_real.py --limit 20 --max-side 512 --markdown
    python benchmarks/sr_real.py --realsrset ../shared/data/sr/real/realsrset --figure docs/sr-real-realsrset.jpg

RealSRSet (20 real LR images, no ground truth) gets a figure and a no-reference score, PIQE
(Venkatanath et al. 2015, the ``pypiqe`` port of MATLAB's ``piqe``; install it with ``pip install --no-deps
pypiqe==1.2``: it declares the GUI ``opencv-python``, which would replace restore's headless OpenCV 4): NIQE
and BRISQUE in pyiqa / piq download their model files at first use, so they do not run offline.

Writes ``benchmarks/results/sr_real_x4.json`` (summary per condition and model; per-image rows only
with ``--per-image``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sr_eval import DEFAULT_VAL, sr_scores  # noqa: E402 - the SR literature's scores, as sr_eval computes them

SCALE = 4


def _measures(lr: torch.Tensor, condition: str) -> dict:
    from restore.pipelines.sr_auto import measure_input

    # a JPEG-last condition, saved as a file, carries its quality in the quantisation table
    quality = int(condition.rsplit("jpeg", 1)[1]) if "jpeg" in condition else None
    return measure_input(lr, quality)


def auto_scores(per_image: dict, models: list[str], **thresholds) -> dict:
    """Mean scores of ``auto`` per condition: each input scored with the model :func:`decide` picks
    from its measures (``thresholds`` override the shipped ones), and how often each was picked."""
    from restore.pipelines.sr_auto import auto_pair, decide

    pair = auto_pair(SCALE, models)
    out = {}
    for condition, rows in per_image.items():
        picked = [decide(m, *pair, **thresholds).model for m in rows["measures"]]
        chosen = [rows[p][i] if p in rows else rows["bicubic"][i] for i, p in enumerate(picked)]
        out[condition] = {k: round(sum(r[k] for r in chosen) / len(chosen), 4) for k in ("psnr_y", "ssim_y", "lpips")}
        out[condition]["picks"] = {p: picked.count(p) for p in sorted(set(picked))}
    return out


def _piqe(image: torch.Tensor) -> float:
    """PIQE (Venkatanath et al. 2015; MATLAB's ``piqe``, package ``pypiqe``): no reference, 0..100, lower is better."""
    from pypiqe import piqe

    arr = (image[0].permute(1, 2, 0).float().clamp(0, 1).numpy() * 255).round().astype("uint8")
    return float(piqe(arr)[0])


def _realsrset(folder: str, models: list[str], path: str, device, side: int = 96) -> dict:
    """RealSRSet x4 (no ground truth): PIQE of every whole output, and a figure of LR centre crops:
    bicubic | each model, 4 rows."""
    from restore.data.degradation import imresize
    from restore.io import read_image, write_image
    from restore.pipelines import SuperResolver

    try:
        import pypiqe  # noqa: F401
        scored = True
    except ImportError:
        print("sr_real: pypiqe is not installed (pip install --no-deps pypiqe==1.2): figure only, no PIQE", flush=True)
        scored = False
    resolvers = {m: SuperResolver.from_pretrained(m, device=device) for m in models}
    rows, piqe = [], {m: [] for m in ["bicubic", *models]}
    for p in sorted(Path(folder).glob("*.png")):
        lr = read_image(p).tensor
        lr = lr.expand(-1, 3, -1, -1) if lr.shape[1] == 1 else lr
        outputs = {"bicubic": imresize(lr, SCALE).clamp(0, 1), **{m: r(lr) for m, r in resolvers.items()}}
        if scored:
            for m, out in outputs.items():
                piqe[m].append(_piqe(out))
        h, w = lr.shape[-2:]
        top, left = max((h - side) // 2, 0) * SCALE, max((w - side) // 2, 0) * SCALE
        rows.append(torch.cat([o[..., top:top + side * SCALE, left:left + side * SCALE] for o in outputs.values()], -1))
        print(f"  {p.name}" + (", PIQE " + ", ".join(f"{m} {v[-1]:.1f}" for m, v in piqe.items()) if scored else ""),
              flush=True)
    width = max(r.shape[-1] for r in rows)
    height = max(r.shape[-2] for r in rows)
    rows = [torch.nn.functional.pad(r, (0, width - r.shape[-1], 0, height - r.shape[-2]), value=1.0) for r in rows]
    write_image(path, torch.cat(rows[:4], dim=-2), overwrite=True)
    print(f"wrote {path} (columns: bicubic | {' | '.join(models)}; first 4 images, {side * SCALE}-pixel crops)")
    return {m: round(sum(v) / len(v), 2) for m, v in piqe.items() if v}


def main(argv: list[str] | None = None) -> dict:
    from restore.data.degradation import imresize
    from restore.data.realistic import BENCHMARK_DEGRADATIONS, apply_benchmark_degradation
    from restore.data.sr import load_validation
    from restore.device import describe_device, resolve_device
    from restore.errors import RestoreError
    from restore.pipelines import SuperResolver
    from restore.registry import list_models

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="registry names or .safetensors (default: every shipped x4 model)")
    ap.add_argument("--val", default=str(DEFAULT_VAL), help="folder of HR images (default Sun-Hays 80)")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0 = all)")
    ap.add_argument("--max-side", type=int, default=0, help="centre-crop HR images to this side first (0 = full size)")
    ap.add_argument("--degradations", nargs="+", default=list(BENCHMARK_DEGRADATIONS),
                    choices=list(BENCHMARK_DEGRADATIONS))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--per-image", action="store_true", help="keep every image's scores and measures in the JSON")
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    ap.add_argument("--realsrset", help="RealSRSet folder: make the no-ground-truth figure (with --figure)")
    ap.add_argument("--figure", help="PNG path of the RealSRSet figure")
    ap.add_argument("--calibrate", metavar="PER_IMAGE_JSON",
                    help="no SR run: from a --per-image JSON, search auto's thresholds (highest mean Y-PSNR over the "
                         "conditions with clean inputs losing <= 0.02 dB), then rescore auto with the shipped ones "
                         "and write the summary JSON")
    ap.add_argument("--out", help="JSON path (default benchmarks/results/sr_real_x4.json)")
    ap.add_argument("--add-to", metavar="SUMMARY_JSON",
                    help="run only --models and add their columns to this earlier result (same images and "
                         "degradations; its bicubic column must match this run's), written to --out or back to it")
    args = ap.parse_args(argv)
    if args.calibrate:
        return calibrate(args.calibrate, args.out, args.markdown)

    device = resolve_device(args.device)
    models = args.models or [e.name for e in list_models("sr") if e.scale == SCALE]
    if args.realsrset:
        if not args.figure:
            ap.error("--realsrset needs --figure")
        if not Path(args.realsrset).is_dir():
            raise SystemExit(f"sr_real: {args.realsrset}: no such folder (RealSRSet: the BSRGAN authors' "
                             "20 real LR test images)")
        piqe = _realsrset(args.realsrset, models, args.figure, device)
        result = {"command": "python benchmarks/sr_real.py " + " ".join(
                      shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
                  "folder": str(args.realsrset), "device": describe_device(device), "figure": args.figure,
                  "piqe_mean": piqe, "note": "PIQE: no-reference, 0..100, lower is better (pypiqe, MATLAB's piqe)"}
        out = Path(args.out or Path(__file__).resolve().parent / "results" / "sr_realsrset_x4.json")
        out.write_text(json.dumps(result, indent=1) + "\n")
        print("PIQE (lower is better): " + ", ".join(f"{m} {v}" for m, v in piqe.items()) + f"; wrote {out}")
        return result
    if not Path(args.val).is_dir():
        raise SystemExit(f"sr_real: {args.val}: no such folder (Sun-Hays 80: Sun and Hays, ICCP 2012; "
                         "pass --val DIR with HR photos)")
    pairs = load_validation(args.val, SCALE, max_images=args.limit or None, max_side=args.max_side or None)
    resolvers = {}
    for name in models:
        try:
            resolvers[name] = SuperResolver.from_pretrained(name, device=device, scale=SCALE)
        except RestoreError as exc:
            raise SystemExit(f"sr_real: {exc}") from None
    print(f"{len(pairs)} images from {args.val}, x{SCALE}, {len(args.degradations)} degradations, "
          f"models {', '.join(models)}, device {describe_device(device)}", flush=True)

    labels = ["bicubic", *models]
    rows = {c: {m: [] for m in labels} for c in args.degradations}
    seconds = {m: 0.0 for m in labels}
    measures = {c: [] for c in args.degradations}
    began_all = time.perf_counter()
    for i, (image, hr, clean_lr) in enumerate(pairs):
        for condition in args.degradations:
            lr = apply_benchmark_degradation(clean_lr, condition, seed=i)
            m = _measures(lr, condition)
            measures[condition].append(m)
            outputs = {"bicubic": imresize(lr, SCALE).clamp(0, 1)}
            for name, resolver in resolvers.items():
                t = time.perf_counter()
                outputs[name] = resolver(lr)
                seconds[name] += time.perf_counter() - t
            for label in labels:
                rows[condition][label].append(dict(sr_scores(outputs[label], hr, SCALE), image=image))
        print(f"  {i + 1}/{len(pairs)} {image} ({time.perf_counter() - began_all:.0f} s)", flush=True)

    per_image = {c: {"measures": measures[c], **rows[c]} for c in args.degradations}
    try:  # the auto column needs the pair it chooses between among --models
        auto = auto_scores(per_image, models)
    except RestoreError as exc:
        print(f"sr_real: no auto column ({exc})", flush=True)
        auto = {}
    summary = {}
    for condition in args.degradations:
        summary[condition] = {}
        for label in labels:
            r = rows[condition][label]
            summary[condition][label] = {k: round(sum(x[k] for x in r) / len(r), 4) for k in ("psnr_y", "ssim_y", "lpips")}
        if auto:
            summary[condition]["auto"] = auto[condition]
    n_runs = len(pairs) * len(args.degradations)
    speed = {m: round(seconds[m] / n_runs, 3) for m in models}

    command = "python benchmarks/sr_real.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    result = {"command": command, "val": str(args.val), "images": len(pairs), "max_side": args.max_side,
              "scale": SCALE, "device": describe_device(device), "models": models,
              "protocol": "LR = restore.data.degradation.degrade(HR, 4), then the named degradation of "
                          "restore.data.realistic.BENCHMARK_DEGRADATIONS seeded by the image index; Y-PSNR/Y-SSIM "
                          "(BT.601) and LPIPS alex v0.1 with a 4-pixel border cropped",
              "s_per_image": speed, "summary": summary}
    if args.per_image:  # scores and measures of every input: `auto_scores` re-runs the choice offline
        result["per_image"] = per_image
    if args.add_to:
        result = add_columns(json.loads(Path(args.add_to).read_text()), result)
    out = Path(args.out or args.add_to or Path(__file__).resolve().parent / "results" / "sr_real_x4.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    if args.markdown:
        print(markdown(result))
    return result


def add_columns(earlier: dict, new: dict) -> dict:
    """``earlier`` with ``new``'s model columns added (before ``auto``), after checking that both ran the same
    inputs: the same images, and bicubic within 0.001 dB / 0.0001 LPIPS on every degradation ``new`` ran."""
    if (earlier["images"], earlier["max_side"], earlier["val"]) != (new["images"], new["max_side"], new["val"]):
        raise SystemExit("sr_real: --add-to: the earlier result ran other images (images, max side or folder differ)")
    for condition, by_model in new["summary"].items():
        if condition not in earlier["summary"]:
            raise SystemExit(f"sr_real: --add-to: the earlier result has no {condition!r} row")
        old, now = earlier["summary"][condition]["bicubic"], by_model["bicubic"]
        if abs(old["psnr_y"] - now["psnr_y"]) > 1e-3 or abs(old["lpips"] - now["lpips"]) > 1e-4:
            raise SystemExit(f"sr_real: --add-to: bicubic differs on {condition} ({old} vs {now}): not the same inputs")
        row = earlier["summary"][condition]
        auto = row.pop("auto", None)
        row.update({m: v for m, v in by_model.items() if m != "bicubic"})
        if auto is not None:
            row["auto"] = auto
    earlier["models"] = [*earlier["models"], *(m for m in new["models"] if m not in earlier["models"])]
    earlier["s_per_image"].update(new["s_per_image"])
    earlier.setdefault("commands_added", []).append(new["command"])
    return earlier


def calibrate(per_image_json: str, out: str | None, show_markdown: bool) -> dict:
    """Threshold search on a per-image result, then its summary rescored with the shipped thresholds."""
    import itertools

    result = json.loads(Path(per_image_json).read_text())
    per_image, models, summary = result.pop("per_image"), result["models"], result["summary"]
    from restore.pipelines.sr_auto import auto_pair

    clean_psnr = summary["clean"][auto_pair(SCALE, models)[0]]["psnr_y"]
    best = None
    for q, b, n in itertools.product([50, 60, 70, 80, 90, 95, 101], [1.05, 1.08, 1.10, 1.12, 1.15, 1.2],
                                     [4, 5, 6, 7.5, 8, 9, 10, 12]):
        auto = auto_scores(per_image, models, jpeg_quality_below=q, blockiness_above=b, noise_sigma_above=n)
        loss = clean_psnr - auto["clean"]["psnr_y"]
        mean = sum(a["psnr_y"] for a in auto.values()) / len(auto)
        if loss <= 0.02 + 1e-9 and (best is None or mean > best[0] + 1e-9):
            best = (mean, q, b, n, loss)
    print(f"best thresholds: JPEG quality < {best[1]}, blockiness > {best[2]}, noise sigma > {best[3]} "
          f"(mean Y-PSNR {best[0]:.3f} dB over {len(per_image)} conditions, clean inputs -{best[4]:.3f} dB)")
    for condition, scores in auto_scores(per_image, models).items():  # the shipped thresholds
        summary[condition]["auto"] = scores
    result["auto_thresholds"] = {"searched_best": dict(zip(("jpeg_quality_below", "blockiness_above",
                                                            "noise_sigma_above"), best[1:4]))}
    result["command_calibrate"] = f"python benchmarks/sr_real.py --calibrate {per_image_json}"
    path = Path(out or Path(__file__).resolve().parent / "results" / "sr_real_x4.json")
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    if show_markdown:
        print(markdown(result))
    return result


def markdown(result: dict) -> str:
    """The README table: one row per degradation, Y-PSNR / LPIPS per method."""
    labels = list(next(iter(result["summary"].values())))
    lines = ["| input | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for condition, by_model in result["summary"].items():
        cells = [f"{by_model[m]['psnr_y']:.2f} / {by_model[m]['lpips']:.3f}" if m in by_model else "-" for m in labels]
        lines.append(f"| {condition} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
