"""``restore train dcgan|vae``: train a generative prior from a recipe; flags override the recipe.

Examples:
    restore train dcgan --out runs/fashion-dcgan                       # Fashion-MNIST, CPU-sized
    restore train vae --recipe vae_faces64 --data faces/ --out runs/faces-vae --device cuda
    torchrun --nproc_per_node 4 -m restore.cli.main train dcgan --recipe dcgan_faces64 --out runs/f
    restore train dcgan --out runs/fashion-dcgan --resume             # continue after an interruption
"""

from __future__ import annotations

import json

from restore.cli.options import add_device, add_precision, number, SEED

DEFAULT_RECIPES = {"dcgan": "dcgan_fashion32", "vae": "vae_fashion32"}


def _add_kind(kinds, kind: str, help_text: str) -> None:
    p = kinds.add_parser(kind, help=help_text, description=f"{help_text}. Flags left unset keep the recipe's value.")
    p.add_argument("--recipe", default=DEFAULT_RECIPES[kind],
                   help=f"recipe name in restore/training/recipes or a TOML path (default {DEFAULT_RECIPES[kind]})")
    p.add_argument("--data", help="'fashion-mnist' (Debian path), a folder of Fashion-MNIST IDX files, "
                                  "an image folder or a .tar.gz of images")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics.jsonl, sample grids, weights")
    p.add_argument("--epochs", type=number(int, low=1))
    p.add_argument("--batch-size", type=number(int, low=1), help="per process")
    p.add_argument("--lr", type=number(float, low=0, low_open=True))
    p.add_argument("--max-steps", type=number(int, low=1), help="stop after this many steps in all (dry runs)")
    p.add_argument("--limit", type=number(int, low=1), help="use only the first N training images (dry runs)")
    p.add_argument("--holdout", type=number(int, low=1), help="image folders: hold out the last N images")
    p.add_argument("--seed", type=SEED)
    p.add_argument("--threads", "--num-threads", dest="num_threads", type=number(int, low=1, high=1024), help="CPU threads for torch")
    add_precision(p, default=None)
    p.add_argument("--export-name", help="name of the exported weights (default: the --out folder's name)")
    if kind == "vae":
        p.add_argument("--beta", type=number(float, low=0), help="weight of the KL term")
    add_device(p)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs of detached runs)")
    p.set_defaults(func=_run, kind=kind)


def register(kind_subparsers) -> None:
    _add_kind(kind_subparsers, "dcgan", "train a DCGAN (generator + discriminator)")
    _add_kind(kind_subparsers, "vae", "train a convolutional VAE")


def _run(args) -> int:
    from restore.errors import RestoreError
    from restore.training.engine import load_recipe
    from restore.training.generative import train

    overrides = {"data": args.data, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "max_steps": args.max_steps, "limit": args.limit, "holdout": args.holdout, "seed": args.seed,
                 "num_threads": args.num_threads, "export_name": args.export_name,
                 "beta": getattr(args, "beta", None), "precision": args.precision}
    recipe = load_recipe(args.recipe, overrides)
    if recipe.get("arch") != args.kind:
        raise RestoreError(f"recipe {recipe['recipe']!r} trains a {recipe.get('arch')}, not a {args.kind}")
    summary = train(recipe, args.out, device=args.device, resume=args.resume, command=args.command_line,
                    progress_bar=not args.no_progress)
    print(json.dumps(summary, indent=2))
    return 130 if summary.get("stopped") else 0
