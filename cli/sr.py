"""``restore sr INPUT... --scale 4``: upscale images with a super-resolution model.

Inputs are files, folders and glob patterns. Each image is read faithfully (EXIF orientation
applied, gray/alpha/16-bit/ICC kept), upscaled by :class:`restore.pipelines.SuperResolver` (tiled
automatically when large) and written atomically. One failing image is reported on one line and the
others go on; the exit status is 1 at the end if any failed.

Under ``torchrun --nproc_per_node N -m restore.cli sr ...`` every rank takes ``files[rank::N]``
(:func:`shard_files`) on its own GPU: no duplicates, no gaps, no communication needed.
"""

from __future__ import annotations

import argparse
import os
import sys

EPILOG = """\
output naming:
  Each input STEM.EXT is written as STEM{suffix}.{ext}, where suffix defaults to _x<outscale>
  (e.g. photo.jpg -> photo_x4.jpg, photo_x2.5.jpg with --outscale 2.5) and ext is the input's own
  with --ext auto (PNG instead when the image has alpha and the input format cannot hold it).
  Without -o a file's result goes next to it, and the files of a folder input FOLDER go to FOLDER_x<outscale>/
  beside it (results of earlier runs lying beside their inputs are not taken as inputs); with -o OUT they
  go into folder OUT (created as needed), or to exactly OUT when there is one input and OUT ends in an
  image extension. --skip-existing leaves existing outputs alone, so an interrupted folder run resumes.
  Existing files are never replaced without --overwrite, and an input is never replaced at all.

examples:
  restore sr photo.jpg                       # auto: srresnet-x4 for clean inputs, the real-world model
                                             # for compressed or noisy ones (one line per image says which)
  restore sr photo.jpg --model srresnet-x4   # always this model
  restore sr photo.jpg --model runs/mine/srresnet_x4.safetensors -o out/   # a model you trained
  restore sr shots/ "more/*.png" -o upscaled/ --outscale 2 --tile 256
  torchrun --nproc_per_node 4 -m restore.cli sr big_folder/ -o out/   # files split across ranks
"""

from restore.cli.options import add_device, add_progress, add_trust_unverified, progress_enabled
from restore.settings import add_options

EXTENSIONS = ("auto", "png", "jpg", "webp")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sr", help="upscale images (super-resolution)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Upscale images with an SRResNet/SRGAN model, tiled so any size fits in memory.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    add_options(p, "sr", ("scale", "model"))
    p.add_argument("-o", "--output", default=None, metavar="OUT", help="output folder (or file, for one input)")
    add_options(p, "sr", ("outscale", "tile", "tile-pad"))
    add_device(p)
    add_trust_unverified(p)
    add_options(p, "sr", ("precision",))
    p.add_argument("--compile", action="store_true", help="torch.compile the network (CUDA, many images)")
    p.add_argument("--ext", default="auto", choices=EXTENSIONS, help="output format (default: the input's)")
    add_options(p, "sr", ("background",))
    p.add_argument("--suffix", default=None, metavar="S", help="appended to the stem (default: _x<outscale>)")
    p.add_argument("--recursive", action="store_true", help="look into sub-folders of folder inputs")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never inputs)")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave outputs that already exist alone (counted as skipped; resumes a folder run)")
    add_progress(p)
    p.set_defaults(func=run)


def shard_files(files: list, rank: int, world_size: int) -> list:
    """The files rank ``rank`` of ``world_size`` handles: ``files[rank::world_size]``.

    Every file goes to exactly one rank (no duplicates, no gaps), and ranks get at most one file more
    than each other.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of {world_size}")
    return list(files[rank::world_size])


def run(args) -> int:
    from restore.io import check_named_inputs, expand_inputs
    from restore.weight_files import check_weights_file

    # what the user named, checked before torch and the model load (seconds): a typo is one line at once
    files = expand_inputs(args.inputs, recursive=args.recursive)
    check_named_inputs(args.inputs)
    check_weights_file(args.model)

    from restore.device import precision_name, resolve_device
    from restore.errors import OutputExistsError, RestoreError
    from restore.io import flatten_alpha, read_image, write_image
    from restore.outputs import drop_own_outputs, file_has_alpha, folder_outputs, format_factor, plan_outputs, sr_suffix
    from restore.metrics.noreference import jpeg_quality
    from restore.pipelines.sr_auto import AutoSuperResolver
    from restore.pipelines.super_resolution import SuperResolver
    from restore.settings import DEFAULT_SR_SCALE, sr_settings
    from tqdm.auto import tqdm

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    settings = sr_settings(args)
    show = progress_enabled(args)  # bars on a terminal: images of a folder run, tiles of a large image

    device = resolve_device(args.device)
    if world > 1 and device.type == "cuda" and device.index is None:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"  # one GPU per rank
    auto = args.model in (None, "auto")
    if auto:  # the model is chosen per image (restore.pipelines.sr_auto)
        settings["scale"] = args.scale or DEFAULT_SR_SCALE
        resolver = AutoSuperResolver(device=device, compile=args.compile, progress=show and rank == 0, **settings)
    else:
        resolver = SuperResolver.from_pretrained(args.model, device=device, compile=args.compile,
                                                 progress=show and rank == 0, **settings)
    outscale = args.outscale if args.outscale is not None else resolver.scale
    if rank == 0:
        print(f"restore sr: {resolver.name} x{resolver.scale} on {resolver.device} in "
              f"{precision_name(resolver.dtype)}", file=sys.stderr)
    suffix = args.suffix if args.suffix is not None else sr_suffix(outscale)
    # Plan over all files on every rank, so collisions are caught the same way whatever the split.
    files = drop_own_outputs(files, suffix)
    plans = plan_outputs(files, output=args.output, suffix=suffix, ext=args.ext, has_alpha=file_has_alpha,
                         folder_of=folder_outputs(args.inputs, files, sr_suffix(outscale)))
    jobs = shard_files(list(zip(files, plans)), rank, world)

    failed = skipped = 0
    bar = tqdm(total=len(jobs), desc=f"sr x{format_factor(outscale)}", unit="img", dynamic_ncols=True,
               disable=not show or rank != 0 or len(jobs) < 2)
    for src, dst in jobs:
        try:
            if dst.exists() and args.skip_existing:
                skipped += 1
                bar.update(1)
                continue
            if dst.exists() and not args.overwrite:
                raise OutputExistsError(f"{dst}: already exists (pass --overwrite to replace it)")
            image = read_image(src)
            if auto:
                colour, alpha = resolver.upscale(image.tensor, image.alpha, outscale=outscale,
                                                 jpeg_quality=jpeg_quality(src))
                choice = resolver.last_choice
                bar.write(f"restore sr: {src.name}: {choice.model} ({choice.reason})", file=sys.stderr)
            else:
                colour, alpha = resolver.upscale(image.tensor, image.alpha, outscale=outscale)
            if alpha is not None and args.background is not None:
                colour, alpha = flatten_alpha(colour, alpha, args.background), None
            write_image(dst, image.with_pixels(colour, alpha), overwrite=args.overwrite, protect=(src,))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the rest
            failed += 1
            what = str(exc) if isinstance(exc, RestoreError) else f"{src}: {type(exc).__name__}: {exc}"
            bar.write(f"restore: error: {what}".splitlines()[0], file=sys.stderr)
        bar.update(1)
    bar.close()
    done = len(jobs) - failed - skipped
    where = f" (rank {rank} of {world})" if world > 1 else ""
    folders = sorted({str(dst.parent) for _, dst in jobs})
    print(f"restore sr: {done} of {len(jobs)} image(s) written with {resolver.name} "
          f"x{format_factor(outscale)}{where}" + (f" to {', '.join(folders[:3])}" if done else "")
          + (f", {skipped} skipped (already there)" if skipped else "")
          + (f", {failed} failed" if failed else ""), file=sys.stderr)
    # one input that fails is a mistake in what was given (2); some failures in a batch are partial (1)
    return (2 if len(files) == 1 else 1) if failed else 0
