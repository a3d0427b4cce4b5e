"""``restore interpolate MODEL -o strip.png``: walks through the latent space of a DCGAN or VAE prior.

Each row goes from one random latent to another in ``--steps`` images (spherical interpolation for a
Gaussian prior, linear for a uniform one).

With ``--between A B`` the walk joins two real images instead: both are projected onto the prior
(``restore project``'s search and flags: ``--project-steps``, ``--restarts``, ``--lpips-weight``,
``--init``), and one row shows A resized to the prior's resolution, ``--steps-between`` images decoded
along the path from A's code to B's (both reconstructions included), then B resized.

Example:
    restore interpolate fashion-vae -o strip.png --rows 4 --steps 12 --seed 3
    restore interpolate faces64-dcgan --between a.png b.png -o morph.png --steps-between 8
"""

from __future__ import annotations


from restore.cli.options import add_device, add_precision, add_progress, add_trust_unverified, number, SEED

#: default --steps (images per row of the random walk)
DEFAULT_STEPS = 10
#: default --steps-between (decoded images between two projected inputs, both reconstructions included)
DEFAULT_STEPS_BETWEEN = 8
#: flags that only mean something with --between (dest names), checked when they are given without it
BETWEEN_ONLY = {"steps_between": "--steps-between", "project_steps": "--project-steps", "restarts": "--restarts",
                "lpips_weight": "--lpips-weight", "init": "--init", "vae_model": "--vae-model"}


def register(subparsers) -> None:
    from restore.cli.project import add_projection_options

    p = subparsers.add_parser("interpolate", help="latent interpolation strips from a GAN/VAE prior",
                              description="Write rows of images interpolating between random latents, or "
                                          "(--between A B) between the projections of two images.")
    p.add_argument("model", help="registered model name or .safetensors file (task gan or vae)")
    p.add_argument("-o", "--output", required=True, help="output image (e.g. strip.png)")
    p.add_argument("--steps", type=number(int, low=2, high=100), default=None,
                   help=f"images per row (default {DEFAULT_STEPS})")
    p.add_argument("--rows", type=number(int, low=1, high=100), default=None, help="number of interpolations (default 1)")
    p.add_argument("--between", nargs=2, default=None, metavar=("A", "B"),
                   help="project two images onto the prior and interpolate between their codes")
    p.add_argument("--steps-between", type=number(int, low=2, high=100), default=None, metavar="N",
                   help=f"with --between: decoded images on the path, both reconstructions included "
                        f"(default {DEFAULT_STEPS_BETWEEN})")
    add_projection_options(p, steps_flag="--project-steps")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    add_device(p)
    add_trust_unverified(p)
    add_precision(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_progress(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from restore.errors import RestoreError

    if args.between:
        return _run_between(args)
    given = [flag for dest, flag in BETWEEN_ONLY.items() if getattr(args, dest) is not None]
    if given:
        raise RestoreError(f"{', '.join(given)}: only with --between A B")
    from restore.device import precision_name, resolve_device
    from restore.io import write_image
    from restore.pipelines.sampling import Sampler, image_grid

    steps = DEFAULT_STEPS if args.steps is None else args.steps
    rows = 1 if args.rows is None else args.rows
    if not 2 <= steps <= 100 or not 1 <= rows <= 100:
        raise RestoreError("--steps must be 2..100 and --rows 1..100")
    sampler = Sampler.from_pretrained(args.model, device=resolve_device(args.device), precision=args.precision)
    images = sampler.interpolate(rows, steps, seed=args.seed)
    path = write_image(args.output, image_grid(images, steps), overwrite=args.overwrite)
    print(f"{path}: {rows} x {steps} interpolation from {sampler.info['name']} (seed {args.seed}, {precision_name(sampler.dtype)})")
    return 0


def _run_between(args) -> int:
    """Project the two ``--between`` images, decode the path between their codes, write one row."""
    import sys

    import torch

    from restore.cli.project import check_new_output, projector_from_args
    from restore.device import precision_name
    from restore.errors import RestoreError
    from restore.io import read_image, write_image
    from restore.pipelines.priors import to_channels
    from restore.pipelines.sampling import image_grid, interpolate_latents

    for flag, value in (("--steps", args.steps), ("--rows", args.rows)):
        if value is not None:
            raise RestoreError(f"{flag} does not go with --between (use --steps-between)")
    n = DEFAULT_STEPS_BETWEEN if args.steps_between is None else args.steps_between
    if not 2 <= n <= 100:
        raise RestoreError("--steps-between must be 2..100")
    check_new_output(args.output, overwrite=args.overwrite, protect=tuple(args.between))
    images = [read_image(p) for p in args.between]  # missing or broken inputs: one line, before the model loads
    projector = projector_from_args(args, args.model)
    print(f"restore interpolate: {projector!r}", file=sys.stderr)
    ends = torch.cat([to_channels(projector.prepare(im.tensor), projector.channels) for im in images])
    projector.project(ends)  # both at once: images x restarts in one batch
    codes, losses = projector.last_codes, projector.last_loss
    path_codes = interpolate_latents(codes[:1], codes[1:], n, spherical=projector.spherical)[0]
    row = torch.cat([ends[:1], projector.decode(path_codes), ends[1:]])
    path = write_image(args.output, image_grid(row, n + 2), overwrite=args.overwrite, protect=tuple(args.between))
    print(f"{path}: {args.between[0]} -> {args.between[1]} through {n} images of {projector.name} "
          f"({'slerp' if projector.spherical else 'lerp'}; projection loss {float(losses[0]):.4f} / "
          f"{float(losses[1]):.4f}, {projector.steps} steps x {projector.restarts} restarts, seed {projector.seed}, "
          f"{precision_name(projector.dtype)})")
    return 0
