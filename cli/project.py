"""``restore project IMAGE -o recon.png``: the code of a GAN/VAE prior that best reproduces a real image.

The iGAN projection (Zhu et al. 2016): ``argmin_z`` pixel L1 + ``--lpips-weight`` x LPIPS (alex) over
the prior's codes, by the inpainting search (Adam, restarts in one batch, ``z`` kept in the prior's
support). The image is resized to the prior's resolution; the reconstruction is written at that
resolution, in the input's channels. ``--codes`` saves the best code as safetensors (``codes``,
shape (1, nz)), e.g. for ``restore interpolate``-style edits from a script.

Example:
    restore project face.png -o recon.png --model faces64-dcgan --steps 300 --restarts 8
"""

from __future__ import annotations

import argparse
import sys

from restore.cli.options import add_device, add_precision, add_progress, add_trust_unverified, number, progress_enabled, SEED

EPILOG = """\
loss:
  mean |2x - 2G(z)| over pixels and channels (the [-1, 1] scale) + W x LPIPS-alex(x, G(z)); W = 0 leaves
  LPIPS out. --init encoder starts from a VAE encoder's code (the companion x-vae of an x-dcgan, or the
  VAE prior's own); the default starts from prior samples.

examples:
  restore project face.png -o recon.png --model faces64-dcgan
  restore project face.png -o recon.png --init encoder --codes face_z.safetensors
  restore interpolate faces64-dcgan --between a.png b.png -o morph.png   # project two, walk between
"""


def add_projection_options(p: argparse.ArgumentParser, steps_flag: str = "--steps") -> None:
    """The search's flags, shared with ``restore interpolate --between`` (defaults: by device)."""
    p.add_argument(steps_flag, dest="project_steps", type=number(int, low=0, high=100_000), default=None,
                   metavar="N", help="Adam steps of the projection (default: 100 on CPU, 1000 on CUDA)")
    p.add_argument("--restarts", type=number(int, low=1, high=4096), default=None, metavar="K",
                   help="restarts searched together (default: 4 on CPU, 16 on CUDA)")
    p.add_argument("--lpips-weight", type=number(float, low=0), default=None, metavar="W",
                   help="weight of LPIPS (alex) against the pixel loss (default: 1; 0: pixels only)")
    p.add_argument("--init", default=None, choices=("random", "encoder"),
                   help="start from prior samples (default) or from a VAE encoder's code")
    p.add_argument("--vae-model", default=None, metavar="NAME|PATH",
                   help="the encoder for --init encoder over a GAN (default: the VAE trained on its data)")


def projector_from_args(args, model):
    """The :class:`restore.pipelines.projection.Projector` the flags of :func:`add_projection_options` ask for."""
    from restore.pipelines.projection import DEFAULT_LPIPS_WEIGHT, Projector

    return Projector.from_pretrained(
        model, vae=args.vae_model, init=args.init or "random", steps=args.project_steps, restarts=args.restarts,
        lpips_weight=DEFAULT_LPIPS_WEIGHT if args.lpips_weight is None else args.lpips_weight,
        device=args.device, precision=args.precision, seed=args.seed, progress=progress_enabled(args))


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "project", help="reconstruct a real image by a GAN/VAE prior's code (iGAN projection)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Find the latent code whose image best reproduces IMAGE (resized to the prior's "
                    "resolution) and write that reconstruction.")
    p.add_argument("image", metavar="IMAGE", help="the image to project")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the reconstruction (e.g. recon.png)")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="the prior (task gan or vae); default: faces64-dcgan when shipped")
    add_projection_options(p)
    p.add_argument("--seed", type=SEED, default=0, metavar="S", help="seed of the restarts (default: 0)")
    p.add_argument("--codes", default=None, metavar="FILE.safetensors",
                   help="also save the best code, tensor 'codes' of shape (1, nz)")
    add_device(p)
    add_trust_unverified(p)
    add_precision(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never the input)")
    add_progress(p)
    p.set_defaults(func=_run)


def check_new_output(path, *, overwrite: bool, protect: tuple = (), suffixes=None) -> None:
    """Refuse, before any work, an output that exists (without ``overwrite``), is an input, or has a wrong extension."""
    from pathlib import Path

    from restore.errors import OutputExistsError, RestoreError
    from restore.io import IMAGE_EXTENSIONS, resolve_path

    path = Path(path)
    suffixes = IMAGE_EXTENSIONS if suffixes is None else suffixes
    if path.suffix.lower() not in suffixes:
        raise RestoreError(f"{path}: unknown output extension (use one of {', '.join(suffixes)})")
    for p in protect:
        if resolve_path(p) == resolve_path(path):
            raise OutputExistsError(f"{path}: refusing to overwrite an input file")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (pass --overwrite to replace it)")


def _run(args) -> int:
    from restore.io import check_input_files, read_image
    from restore.weight_files import check_weights_file

    check_new_output(args.output, overwrite=args.overwrite, protect=(args.image,))
    if args.codes:
        check_new_output(args.codes, overwrite=args.overwrite, protect=(args.image, args.output),
                         suffixes=(".safetensors",))
    # the input and model files, checked before torch and the prior load (seconds)
    check_input_files([args.image])
    check_weights_file(args.model)
    check_weights_file(args.vae_model)
    image = read_image(args.image)  # a broken input: one line, before the model loads
    projector = projector_from_args(args, args.model)
    print(f"restore project: {projector!r}", file=sys.stderr)
    return _project_and_write(projector, image, args)


def _project_and_write(projector, image, args) -> int:
    import time

    from restore.data.degradation import resize
    from restore.device import precision_name
    from restore.io import atomic_write_bytes, write_image

    start = time.perf_counter()
    recon = projector.project(image.tensor)
    seconds = time.perf_counter() - start
    alpha = resize(image.alpha, projector.resolution, "bicubic") if image.alpha is not None else None
    protect = (args.image,)
    path = write_image(args.output, image.with_pixels(recon, alpha), overwrite=args.overwrite, protect=protect)
    loss = float(projector.last_loss[0])
    if args.codes:
        from safetensors.torch import save

        data = save({"codes": projector.last_codes.contiguous()},
                    metadata={"model": projector.name, "loss": f"{loss:.6f}", "image": str(args.image),
                              "format": "restore-codes"})
        atomic_write_bytes(args.codes, data, overwrite=args.overwrite, protect=protect + (args.output,))
    w, h = image.size
    print(f"{args.image} ({w}x{h}) -> {path} ({projector.resolution}x{projector.resolution}, {projector.name}, "
          f"loss {loss:.4f}, {projector.steps} steps x {projector.restarts} restarts, init {projector.init}, "
          f"seed {projector.seed}, {precision_name(projector.dtype)}, {seconds:.2f}s)")
    return 0
