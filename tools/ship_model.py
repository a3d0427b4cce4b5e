"""Ship a trained model: copy its weights into ``weights/`` (fp16 when asked), write the model card, register it.

The run's exported ``NAME.safetensors`` + ``NAME.json`` (written by ``restore train``) are read with
their sha256 checked; the card is extended with what only the shipping step knows: the registry name,
the licence, the headline metrics (from a ``benchmarks/`` JSON), the run's validation curve (from its
``metrics.jsonl``) and the cumulative training history over runs (a warm start from the previously
shipped weights adds its steps and wall time to those already in ``weights/NAME.json``).

Usage:
    python tools/ship_model.py runs/srresnet_x4/srresnet_x4.safetensors --name srresnet-x4 --fp16 \\
        --metrics benchmarks/results/sr_eval_x4.json --metrics-key srresnet_x4 \\
        --description "SRResNet x4 (no BN, L1), BSDS500+T91, CPU bf16" --licence "..."
    python tools/ship_model.py runs/faces64-dcgan/faces64-dcgan.safetensors --name faces64-dcgan --fp16 \\
        --metric fad_alex_10k=12.3 --metric-command "python benchmarks/generative_quality.py ..."
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _validation_curve(run_dir: Path) -> list[dict]:
    log = run_dir / "metrics.jsonl"
    if not log.is_file():
        return []
    curve = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "val":
            curve.append({k: v for k, v in record.items() if k not in ("event", "time")})
    return curve


def main(argv: list[str] | None = None) -> int:
    from restore.registry import WEIGHTS_DIR, ModelEntry, register
    from restore.weight_files import export_model, load_safetensors, read_card

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", type=Path, help="the run's exported NAME.safetensors (card beside it)")
    ap.add_argument("--name", required=True, help="registry name, e.g. srresnet-x4")
    ap.add_argument("--fp16", action="store_true", help="store the tensors in fp16 (half the size)")
    ap.add_argument("--metrics", type=Path, help="benchmark JSON with a 'summary' of methods")
    ap.add_argument("--metrics-key", help="the method's key in that summary, e.g. 'srresnet_x4 (bf16)'")
    ap.add_argument("--metric", action="append", default=[], metavar="KEY=VALUE",
                    help="a headline metric measured elsewhere (generative priors: fad_alex_10k=..., repeatable)")
    ap.add_argument("--metric-command", help="the command that measured the --metric values")
    ap.add_argument("--description", default="")
    ap.add_argument("--licence", default="")
    ap.add_argument("--curve-from", type=Path, metavar="RUN_DIR",
                    help="the run whose metrics.jsonl holds the validation curve (default: the weights' folder; "
                         "e.g. the run an interpolated file came from)")
    ap.add_argument("--warm-start", action="store_true",
                    help="this run started from the shipped weights: add their steps and wall time")
    args = ap.parse_args(argv)

    card = read_card(args.weights)
    state = load_safetensors(args.weights, card.get("sha256"))
    previous = {}
    if args.warm_start and (WEIGHTS_DIR / f"{args.name}.json").is_file():
        previous = json.loads((WEIGHTS_DIR / f"{args.name}.json").read_text())
    runs = list(previous.get("runs", []))
    runs.append({k: card.get(k) for k in ("steps", "wall_time_s", "device", "precision", "command", "recipe", "init")}
                | {k: card[k] for k in ("resumed_with", "interpolation") if card.get(k)}
                | {"validation_curve": _validation_curve(args.curve_from or args.weights.parent)})
    card.update(name=args.name, licence=args.licence, description=args.description, runs=runs,
                cumulative_steps=sum(int(r["steps"] or 0) for r in runs),
                cumulative_wall_time_s=round(sum(float(r["wall_time_s"] or 0) for r in runs), 1))
    metrics = {}
    if args.metrics:
        bench = json.loads(args.metrics.read_text())
        metrics = dict(bench["summary"][args.metrics_key])
        card["metrics"] = dict(metrics, images=bench["images"], val=bench["val"], protocol=bench["protocol"],
                               device=bench["device"], bicubic=bench["summary"].get("bicubic"),
                               command=bench.get("command"))
        base = args.metrics_key.split(" (")[0]
        for key, value in bench["summary"].items():  # the same model in each precision measured
            if key.startswith(base + " ("):
                card["metrics"].setdefault("by_precision", {})[key[len(base) + 2:-1]] = value
    for item in args.metric:
        key, _, value = item.partition("=")
        metrics[key] = float(value)
    if args.metric:
        card["metrics"] = dict(card.get("metrics") or {}, **metrics, command=args.metric_command)
    for key in ("file", "sha256", "dtype"):
        card.pop(key, None)
    path = export_model(WEIGHTS_DIR, args.name, state, card, fp16=args.fp16)
    card = json.loads(path.with_suffix(".json").read_text())
    register(ModelEntry(name=args.name, task=card["task"], arch=card["arch"], config=card["config"],
                        file=path.name, sha256=card["sha256"], scale=card.get("scale"),
                        resolution=card.get("resolution"), licence=args.licence,
                        metrics={k: v for k, v in metrics.items() if k != "s_per_image"},
                        card=path.with_suffix(".json").name, description=args.description,
                        kind=card.get("kind", "")))
    print(f"shipped {path} ({path.stat().st_size / 2**20:.1f} MiB, sha256 {card['sha256'][:12]}...)")
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
