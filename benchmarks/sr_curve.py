"""The training curve of a shipped SR model: validation Y-PSNR / SSIM / LPIPS against cumulative steps.

Reads the ``runs`` history in the model card (``weights/NAME.json``, written by ``tools/ship_model.py``
from each run's ``metrics.jsonl``), so the curve survives the run folders. Steps of later runs are
offset by the steps of the runs before them (warm starts continue the count).

Usage:
    pip install matplotlib        # only this script needs it
    python benchmarks/sr_curve.py srresnet-x4 --plot docs/srresnet-x4-curve.png

Prints a table and writes ``benchmarks/results/NAME_curve.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> list[dict]:
    from restore.registry import WEIGHTS_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="shipped model name, e.g. srresnet-x4")
    ap.add_argument("--plot", help="PNG path for the plot (needs matplotlib)")
    ap.add_argument("--out", help="JSON path (default benchmarks/results/NAME_curve.json)")
    args = ap.parse_args(argv)

    card = json.loads((WEIGHTS_DIR / f"{args.name}.json").read_text())
    curve, offset, wall = [], 0, 0.0
    for run_index, run in enumerate(card.get("runs", [])):
        for point in run.get("validation_curve", []):
            curve.append(dict(point, run=run_index + 1, cumulative_step=offset + int(point["step"])))
        offset += int(run.get("steps") or 0)
        wall += float(run.get("wall_time_s") or 0)
    print(f"{args.name}: {len(card.get('runs', []))} run(s), {offset} steps, {wall / 3600:.2f} h\n")
    print("| run | step | Y-PSNR | bicubic Y-PSNR | Y-SSIM | LPIPS |\n|---|---|---|---|---|---|")
    for p in curve:
        print(f"| {p['run']} | {p['cumulative_step']} | {p['psnr_y']:.3f} | {p['bicubic_psnr_y']:.3f} | "
              f"{p['ssim_y']:.4f} | {p['lpips']:.4f} |")
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"{args.name}_curve.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.name, "cumulative_steps": offset, "wall_time_s": round(wall, 1),
                               "note": "validation during training: the run's --val images (see each run's command)",
                               "curve": curve}, indent=1) + "\n")
    print(f"wrote {out}")
    if args.plot and curve:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = [p["cumulative_step"] for p in curve]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        for ax, key, label in zip(axes, ("psnr_y", "ssim_y", "lpips"), ("Y-PSNR (dB)", "Y-SSIM", "LPIPS (alex)")):
            ax.plot(steps, [p[key] for p in curve], marker="o", label=args.name)
            if key == "psnr_y":
                ax.plot(steps, [p["bicubic_psnr_y"] for p in curve], ls="--", color="gray", label="bicubic")
                ax.legend()
            ax.set_xlabel("training steps (batch 16)")
            ax.set_title(label)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=90)
        print(f"wrote {args.plot}")
    return curve


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
