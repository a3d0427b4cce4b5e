"""``restore train srresnet`` and ``restore train srgan``: SR training from a recipe, flags override it.

Examples:
    restore train srresnet --data data/t91 data/bsds500 --val data/set14 --scale 4 --out runs/srresnet_x4
    restore train srgan --init runs/srresnet_x4/srresnet_x4.safetensors --data data/t91 --out runs/srgan_x4
    torchrun --nproc_per_node 4 -m restore.cli train srresnet --data ... --out runs/srresnet_x4_ddp
"""

from __future__ import annotations

import argparse

from restore.cli.options import add_precision, number, SEED

#: command-line flag -> recipe key (flags left unset keep the recipe's value).
OVERRIDES = {
    "scale": "scale", "steps": "steps", "batch_size": "batch_size", "patch_size": "patch_size", "lr": "lr",
    "num_blocks": "num_blocks", "channels": "channels", "seed": "seed", "ema": "ema", "num_workers": "num_workers",
    "val_every": "val_every", "ckpt_every": "ckpt_every", "val_minutes": "val_minutes",
    "ckpt_minutes": "ckpt_minutes", "log_every": "log_every",
    "val_max_images": "val_max_images", "val_max_side": "val_max_side", "precision": "precision",
    "norm": "norm", "pixel_loss": "pixel_loss", "lr_schedule": "lr_schedule", "threads": "num_threads",
    "degradation": "degradation", "degradation_mix": "degradation_mix", "val_degradation": "val_degradation",
}


POSITIVE = number(int, low=1)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="HR training image folders (or files/globs)")
    p.add_argument("--val", metavar="DIR", help="validation folder (HR images); LR is made by the same degradation")
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/KIND_xSCALE)")
    p.add_argument("--recipe", help="recipe name or TOML path (default: srresnet_x4/srresnet_x2/srgan_x4 by kind and scale)")
    p.add_argument("--scale", type=int, choices=[2, 4, 8])
    p.add_argument("--steps", type=POSITIVE)
    p.add_argument("--batch-size", type=POSITIVE, help="global batch (split across DDP processes)")
    p.add_argument("--patch-size", type=POSITIVE, help="HR crop side (multiple of the scale)")
    p.add_argument("--lr", type=number(float, low=0, low_open=True))
    p.add_argument("--num-blocks", type=POSITIVE)
    p.add_argument("--channels", type=POSITIVE)
    p.add_argument("--seed", type=SEED)
    add_precision(p, default=None)
    p.add_argument("--threads", "--num-threads", dest="threads", type=POSITIVE, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--norm", choices=["batch", "none"], help="BatchNorm in the generator (the paper) or none")
    p.add_argument("--pixel-loss", choices=["mse", "l1"], help="pixel loss (mse: the paper)")
    p.add_argument("--lr-schedule", choices=["multistep", "cosine"], help="learning-rate schedule")
    p.add_argument("--degradation", choices=["bicubic", "realistic", "realesrgan", "bsrgan", "simple"],
                   help="how training LR is made: bicubic (the benchmarks' clean LR), realistic (a seeded mix of "
                        "Real-ESRGAN's second-order model, BSRGAN's shuffled one, bicubic+noise+JPEG and clean), "
                        "or one family alone (restore.data.realistic)")
    p.add_argument("--degradation-mix", metavar="MIX",
                   help="with --degradation realistic: family weights, e.g. simple=0.6,clean=0.15,realesrgan=0.15,"
                        "bsrgan=0.1 (default: restore.data.realistic.MIX)")
    p.add_argument("--val-degradation", metavar="NAME",
                   help="degrade validation LR like the real-world benchmark: clean, jpeg30/50/70/90, noise5/10/15, "
                        "blur1-noise5-jpeg70, blur0.6-noise10-jpeg50")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps (under torchrun: each rank's GPU)")
    p.add_argument("--memory-resident", action="store_true", default=None,
                   help="decode the training images once into the device's memory (RAM or GPU); crop and degrade there")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the networks")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format (default on)")
    p.add_argument("--ema", type=number(float, low=0, high=0.99999), metavar="DECAY", help="EMA of generator weights, e.g. 0.999 (0 = off)")
    p.add_argument("--num-workers", type=number(int, low=0, high=64), help="DataLoader workers (0 = decode in the main process)")
    p.add_argument("--resume", action="store_true", help="continue OUT/checkpoints/last.pt on the same schedule")
    p.add_argument("--val-every", type=POSITIVE)
    p.add_argument("--val-max-images", type=number(int, low=0))
    p.add_argument("--val-max-side", type=number(int, low=0), help="centre-crop validation images to this side")
    p.add_argument("--ckpt-every", type=POSITIVE)
    p.add_argument("--val-minutes", type=number(float, low=0), help="also validate every N minutes (0 = off)")
    p.add_argument("--ckpt-minutes", type=number(float, low=0), help="also checkpoint every N minutes (0 = off)")
    p.add_argument("--log-every", type=POSITIVE)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(kinds) -> None:
    for kind, help_text in (("srresnet", "SRResNet with pixel MSE (Ledig et al. 2017)"),
                            ("srgan", "SRGAN: VGG content + adversarial loss, generator from --init")):
        p = kinds.add_parser(kind, help=help_text, description=help_text + ". Flags override the recipe.")
        _add_common(p)
        p.add_argument("--init", metavar="WEIGHTS",
                       help="SRResNet .safetensors (model card beside it) or a registered name to start the generator "
                            "from: a warm start (fresh optimiser and schedule); weights of another scale give "
                            "every tensor that fits (trunk, shared upsampling stages, output conv)")
        if kind == "srgan":
            p.add_argument("--adv-weight", type=number(float, low=0), help="adversarial loss weight (1e-3)")
            p.add_argument("--tv-weight", type=number(float, low=0), help="total-variation loss weight (0)")
            p.add_argument("--pixel-weight", type=number(float, low=0),
                           help="weight of an extra pixel term, the recipe's pixel_loss (0)")
            p.add_argument("--lr-consistency-weight", type=number(float, low=0),
                           help="weight of L1(downscaled output, LR input), against colour drift (0)")
            p.add_argument("--content-layer", help="VGG layer of the content loss (relu5_4)")
            p.add_argument("--disc-channels", type=POSITIVE, help="discriminator base width (64)")
        p.set_defaults(func=run, train_kind=kind)


def run(args: argparse.Namespace) -> int:
    from restore.training.engine import load_recipe
    from restore.training.sr import train

    kind = args.train_kind
    recipe_name = args.recipe or ("srgan_x4" if kind == "srgan" else "srresnet_x2" if args.scale == 2 else "srresnet_x4")
    overrides = {key: getattr(args, flag) for flag, key in OVERRIDES.items()}
    overrides.update(memory_resident=args.memory_resident, compile=args.compile, channels_last=args.channels_last)
    if kind == "srgan":
        overrides.update(adv_weight=args.adv_weight, tv_weight=args.tv_weight, pixel_weight=args.pixel_weight,
                         lr_consistency_weight=args.lr_consistency_weight,
                         content_layer=args.content_layer, disc_channels=args.disc_channels)
    recipe = load_recipe(recipe_name, overrides)
    if recipe.get("kind") != kind:
        from restore.errors import RestoreError

        raise RestoreError(f"recipe {recipe['recipe']!r} is for {recipe.get('kind')}, not {kind}")
    out = args.out or f"runs/{kind}_x{recipe['scale']}"
    result = train(recipe, data=args.data, val=args.val, out=out, device=args.device,
                   init=args.init, resume=args.resume, progress_bar=not args.no_progress,
                   command=args.command_line)
    if result["stopped"]:
        return 130
    if result["weights"] is not None:
        print(f"exported {result['weights']} (step {result['step']}"
              + (f", {result['patches_per_s']:.1f} HR patches/s" if result["patches_per_s"] else "") + ")")
    return 0
