"""``restore interpolate MODEL -o strip.png``: walks through the latent space of a DCGAN or VAE prior.

Each row goes from one random latent to another in ``--steps`` images (spherical interpolation for a
Gaussian prior, linear for a uniform one).

Example:
    restore interpolate fashion-vae -o strip.png --rows 4 --steps 12 --seed 3
"""

from __future__ import annotations


from restore.cli.options import add_precision, add_trust_unverified, number, SEED


def register(subparsers) -> None:
    p = subparsers.add_parser("interpolate", help="latent interpolation strips from a GAN/VAE prior",
                              description="Write rows of images interpolating between random latents.")
    p.add_argument("model", help="registered model name or .safetensors file (task gan or vae)")
    p.add_argument("-o", "--output", required=True, help="output image (e.g. strip.png)")
    p.add_argument("--steps", type=number(int, low=2, high=100), default=10, help="images per row (default 10)")
    p.add_argument("--rows", type=number(int, low=1, high=100), default=1, help="number of interpolations (default 1)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    add_trust_unverified(p)
    add_precision(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from restore.device import precision_name, resolve_device
    from restore.errors import RestoreError
    from restore.io import write_image
    from restore.pipelines.sampling import Sampler, image_grid

    if not 2 <= args.steps <= 100 or not 1 <= args.rows <= 100:
        raise RestoreError("--steps must be 2..100 and --rows 1..100")
    sampler = Sampler.from_pretrained(args.model, device=resolve_device(args.device), precision=args.precision)
    images = sampler.interpolate(args.rows, args.steps, seed=args.seed)
    path = write_image(args.output, image_grid(images, args.steps), overwrite=args.overwrite)
    print(f"{path}: {args.rows} x {args.steps} interpolation from {sampler.info['name']} (seed {args.seed}, {precision_name(sampler.dtype)})")
    return 0
