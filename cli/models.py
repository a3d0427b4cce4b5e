"""``restore models [--task sr|gan|vae] [--json]``: list the shipped models and their metrics.

Everything comes from the registry (``weights/models.json`` via :mod:`restore.registry`), the one
place shipped models are described.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list shipped models with their metrics",
                              description="List the models in the registry (weights/models.json).")
    p.add_argument("--task", choices=("sr", "gan", "vae"), default=None, help="only models of this task")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(func=run)


def _format_metrics(metrics: dict) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key} {value:.4g}")
        elif isinstance(value, (int, str)):
            parts.append(f"{key} {value}")
        elif isinstance(value, dict):  # e.g. {"Set5": {"psnr": 30.1}}: flatten one level
            parts.extend(f"{key}/{k} {v:.4g}" if isinstance(v, float) else f"{key}/{k} {v}"
                         for k, v in value.items() if not isinstance(v, (dict, list)))
    return ", ".join(parts) or "-"


def run(args) -> int:
    from dataclasses import asdict

    from restore.registry import WEIGHTS_DIR, list_models

    entries = list_models(args.task)
    if args.json:
        print(json.dumps([dict(asdict(e), installed=e.path.is_file()) for e in entries], indent=2))
        return 0
    if not entries:
        others = list_models()
        what = f"{args.task} " if args.task else ""
        where = (f"{len(others)} model(s) of other tasks are in {WEIGHTS_DIR / 'models.json'}" if others
                 else f"{WEIGHTS_DIR / 'models.json'} is empty")
        print(f"No {what}models are shipped yet ({where}). Commands that need "
              "one take a local .safetensors file with its .json card, e.g. "
              "`restore sr photo.jpg --model my-srresnet.safetensors`.", file=sys.stderr)
        return 0
    rows = [("NAME", "TASK", "SCALE/RES", "ARCH", "FILE", "METRICS")]
    for e in entries:
        size = f"x{e.scale}" if e.scale else ("x".join(str(v) for v in e.resolution) if e.resolution else "-")
        present = e.file if e.path.is_file() else f"{e.file} (missing)"
        rows.append((e.name, e.task, size, e.arch, present, _format_metrics(e.metrics)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    for e in entries:
        if e.licence or e.description:
            print(f"{e.name}: {e.description}{' - ' if e.description and e.licence else ''}{e.licence}")
    return 0
