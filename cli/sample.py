"""``restore sample MODEL -n 64 -o grid.png``: a grid of images drawn from a DCGAN or VAE prior.

MODEL is a registered name (``restore models``) or a ``.safetensors`` file with its JSON card.

Example:
    restore sample fashion-dcgan -n 64 -o grid.png --seed 1
"""

from __future__ import annotations


from restore.cli.options import add_device, add_precision, add_trust_unverified, number, SEED


def register(subparsers) -> None:
    p = subparsers.add_parser("sample", help="draw samples from a GAN/VAE prior into a grid image",
                              description="Draw N images from a generative prior and write them as one grid.")
    p.add_argument("model", help="registered model name or .safetensors file (task gan or vae)")
    p.add_argument("-n", "--num", type=number(int, low=1, high=10_000), default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--output", required=True, help="output image (e.g. grid.png)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (default 0; same seed, same grid)")
    p.add_argument("--nrow", type=number(int, low=1, high=10_000), help="images per row (default: about square)")
    add_device(p)
    add_trust_unverified(p)
    add_precision(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from restore.weight_files import check_weights_file

    check_weights_file(args.model)  # a missing weights file: one line before torch loads

    from restore.device import precision_name, resolve_device
    from restore.errors import RestoreError
    from restore.io import write_image
    from restore.pipelines.sampling import Sampler, image_grid

    if not 1 <= args.num <= 10000:
        raise RestoreError(f"-n must be between 1 and 10000, got {args.num}")
    sampler = Sampler.from_pretrained(args.model, device=resolve_device(args.device), precision=args.precision)
    images = sampler.sample(args.num, seed=args.seed)
    path = write_image(args.output, image_grid(images, args.nrow), overwrite=args.overwrite)
    print(f"{path}: {args.num} samples from {sampler.info['name']} (seed {args.seed}, {precision_name(sampler.dtype)})")
    return 0
