"""``restore train KIND ...``: one subcommand per kind of training.

The kinds live in ``restore.cli.train_sr`` (srresnet, srgan) and ``restore.cli.train_generative``
(dcgan, vae); each exposes ``register(train_subparsers)``.
"""

from __future__ import annotations

import importlib

KIND_MODULES = ["restore.cli.train_sr", "restore.cli.train_generative"]


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model (srresnet, srgan, dcgan, vae)",
                                   description="Train a model from a recipe; flags override the recipe.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")
    for name in KIND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(kinds)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
