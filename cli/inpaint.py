"""``restore inpaint IMAGE... --mask MASK|MASKDIR``: fill holes with a GAN/VAE prior or a classical method.

Masks follow the IOPaint convention: white / non-zero = hole; gray, RGB or RGBA (alpha) masks; a
mask of another size but the image's aspect ratio is resized with nearest neighbour (a line says so), one
of another aspect ratio is refused; threshold 127. One mask file applies to every
image; a mask folder is matched by file stem. Outputs never replace inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

EPILOG = """\
masks:
  white / non-zero pixels are the hole (gray, RGB: brightest channel > 127; RGBA with transparency:
  the alpha plane). --invert-mask reads black as the hole. A mask of another size is resized (nearest;
  a line says so) when it has the image's aspect ratio, and refused when it has another.

methods:
  auto          (default) per image: the face prior (faces64-dcgan) when a face is detected around the
                hole, fashion-dcgan for gray 28x28/32x32 images, else Telea (biharmonic for scattered
                pixels); one line per image says which and why. --model NAME alone uses that prior.
  gan           Yeh et al. 2017: search the DCGAN latent space (context + lambda * log(1 - D(G(z))))
  vae           the same search over a VAE decoder with a lambda * ||z||^2 prior
  gan-vae-init  the GAN search started from the VAE encoder's code of the masked image
  telea, ns     OpenCV Telea / Navier-Stokes (no model)
  biharmonic    scikit-image biharmonic (no model)

  Images of any size are served: a square around the hole (with --margin context) is resized to the
  prior's resolution, filled, and brought back; the crop used is printed (and saved by --save-trace).
  A gray prior fills colour images through their luma (blending restores colour from the border).

output naming:
  STEM.EXT -> STEM_inpainted.EXT next to the input (files of a folder input FOLDER go to
  FOLDER_inpainted/ beside it), or in folder -o OUT (exactly OUT for one input when OUT ends in an image
  extension). --skip-existing leaves existing outputs alone (an interrupted folder run resumes). --save-trace writes STEM_inpainted.trace.json beside it with
  the per-step losses, the crop and the settings. Existing files are replaced only with --overwrite.

examples:
  restore inpaint face.png --mask hole.png                      # auto: the face prior for a face
  restore inpaint face.png --mask hole.png --method gan --model faces64-dcgan
  restore inpaint shirts/ --mask masks/ --method vae -o filled/ --steps 300 --restarts 8
  restore inpaint photo.jpg --mask m.png --method telea
"""


from restore.cli.options import add_device, add_progress, add_trust_unverified, number, progress_enabled
from restore.outputs import INPAINT_SUFFIX
from restore.settings import add_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inpaint", help="fill holes (semantic inpainting over a GAN/VAE prior, or classical)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fill the holes marked by a mask: latent search over a DCGAN/VAE prior "
                    "(Yeh et al. 2017) with Poisson blending, or a classical baseline.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files, folders or glob patterns")
    p.add_argument("--mask", required=True, metavar="MASK|MASKDIR",
                   help="one mask for every image, or a folder of masks matched by file stem")
    add_options(p, "inpaint", ("model", "vae-model", "method", "steps", "restarts", "lambda", "lr", "seed", "blend",
                               "blend-solver", "margin", "invert-mask"))
    p.add_argument("-o", "--output", default=None, metavar="OUT", help="output folder (or file, for one input)")
    p.add_argument("--suffix", default=INPAINT_SUFFIX, metavar="S", help=f"appended to the stem (default: {INPAINT_SUFFIX})")
    add_device(p)
    add_trust_unverified(p)
    add_options(p, "inpaint", ("precision",))
    p.add_argument("--save-trace", action="store_true", help="write the per-step losses as JSON beside each output")
    p.add_argument("--batch", type=number(int, low=1, high=4096), default=16, metavar="B",
                   help="images at the prior's resolution searched together (default: 16)")
    p.add_argument("--recursive", action="store_true", help="look into sub-folders of folder inputs")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never inputs)")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave outputs that already exist alone (counted as skipped; resumes a folder run)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from restore.errors import ImageReadError, RestoreError
    from restore.inpainting.masks import match_masks
    from restore.io import check_input_files, check_named_inputs, expand_inputs
    from restore.outputs import drop_own_outputs, folder_outputs, plan_outputs
    from restore.weight_files import check_weights_file

    # images, masks and model files checked before torch and the prior load (seconds): a typo is one line at once
    files = drop_own_outputs(expand_inputs(args.inputs, recursive=args.recursive), args.suffix)
    check_named_inputs(args.inputs)
    mask_for = match_masks(files, args.mask)
    if Path(args.mask).is_file():  # the one mask named (a folder's masks are read per image)
        try:
            check_input_files([args.mask])
        except ImageReadError as exc:
            raise RestoreError(f"unreadable mask: {exc}") from None
    check_weights_file(args.model)
    check_weights_file(args.vae_model)
    if len(files) == 1:  # one image: its mask's shape too (a decode, no torch); a batch checks per image
        from restore.inpainting.masks import check_mask_size
        from restore.io import probe_image

        try:
            mask_info = probe_image(mask_for[files[0]])
        except ImageReadError as exc:
            raise RestoreError(f"unreadable mask: {exc}") from None
        image_info = probe_image(files[0])
        check_mask_size((mask_info["height"], mask_info["width"]), (image_info["height"], image_info["width"]),
                        name=str(mask_for[files[0]]))

    from restore.inpainting.masks import load_mask
    from restore.io import read_image
    from restore.pipelines.inpainting import Inpainter
    from restore.settings import inpaint_settings

    settings = inpaint_settings(args, device=args.device)
    plans = plan_outputs(files, output=args.output, suffix=args.suffix, ext="auto",
                         folder_of=folder_outputs(args.inputs, files, args.suffix))
    skipped = 0
    if args.skip_existing:
        kept = [(f, d) for f, d in zip(files, plans) if not d.exists()]
        skipped = len(files) - len(kept)
        files, plans = [f for f, _ in kept], [d for _, d in kept]
        if not files:
            print(f"restore inpaint: nothing to do ({skipped} output(s) already there)", file=sys.stderr)
            return 0
    inpainter = Inpainter.from_pretrained(args.model, args.method, progress=progress_enabled(args), **settings)
    protect = tuple(files) + tuple(dict.fromkeys(mask_for.values()))
    failed = 0

    def report(exc):
        nonlocal failed
        if len(files) == 1:
            raise exc
        failed += 1
        print(f"restore: error: {exc}", file=sys.stderr)

    # Images at the prior's resolution (same channels) are searched together: images x restarts in
    # one batch; others go one by one through a crop.
    pending: list = []

    announced = []

    def flush():
        if pending and not announced:  # the setup line once, when there is work (not before an error)
            print(f"restore inpaint: {inpainter!r}", file=sys.stderr)
            announced.append(True)
        if pending:
            try:
                _inpaint_group(list(pending), inpainter, args, protect)
            except RestoreError as exc:
                report(exc)
            pending.clear()

    noted: set = set()

    def note(line: str) -> None:  # a mask resized to an image's size: said once per mask and size
        if line not in noted:
            noted.add(line)
            print(f"restore inpaint: {line}", file=sys.stderr)

    for src, dst in zip(files, plans):
        try:
            image = read_image(src)
            known = load_mask(mask_for[src], tuple(image.tensor.shape[-2:]), invert=args.invert_mask, on_resize=note)
        except RestoreError as exc:
            report(exc)
            continue
        res = inpainter.resolution
        batchable = res is not None and image.size == (res, res)
        if pending and (not batchable or pending[0][2].tensor.shape != image.tensor.shape):
            flush()
        pending.append((src, dst, image, known))
        if not batchable or len(pending) >= args.batch:
            flush()
    flush()
    if skipped:
        print(f"restore inpaint: {skipped} image(s) skipped (output already there)", file=sys.stderr)
    if failed:
        print(f"restore inpaint: {failed} of {len(files)} images failed", file=sys.stderr)
        return 1
    return 0


def _inpaint_group(group: list, inpainter, args, protect: tuple) -> None:
    """Inpaint ``[(src, dst, LoadedImage, known)]`` of one shape as one batch and write each result."""
    import torch

    from restore.errors import OutputExistsError
    from restore.io import atomic_write_bytes, write_image

    start = time.perf_counter()
    out = inpainter.inpaint(torch.cat([g[2].tensor for g in group]), torch.cat([g[3] for g in group]))
    seconds = (time.perf_counter() - start) / len(group)
    for i, (src, dst, image, known) in enumerate(group):
        trace_path = dst.with_name(dst.stem + ".trace.json")
        if args.save_trace and trace_path.exists() and not args.overwrite:  # refuse before writing anything
            raise OutputExistsError(f"{trace_path}: already exists (pass --overwrite to replace it)")
        dst.parent.mkdir(parents=True, exist_ok=True)
        write_image(dst, image.with_pixels(out[i:i + 1], image.alpha), overwrite=args.overwrite, protect=protect)
        info = inpainter.last_info[i]
        crop = info.get("crop")
        where = (f"crop {crop['size']}x{crop['size']} at x={crop['left']}, y={crop['top']}, "
                 f"back by {info['upscale']}" if crop else "whole image")
        batch = f", batch of {len(group)}" if len(group) > 1 else ""
        method = info.get("method", inpainter.method)
        if "reason" in info:  # auto: which method and prior, and why
            model = f" with {info['model']}" if info["model"] else ""
            print(f"restore inpaint: {src}: {method}{model}: {info['reason']}", file=sys.stderr)
        print(f"{src} -> {dst} ({method}, {where}, {seconds:.2f}s/image{batch})", file=sys.stderr)
        if args.save_trace:
            record = {"image": str(src), "output": str(dst), "method": method,
                      "model": info.get("model", inpainter.name) if "reason" in info else inpainter.name,
                      "steps": inpainter.steps, "restarts": inpainter.restarts, "lambda": inpainter.lam,
                      "seed": inpainter.seed, "blend": args.blend, "seconds": seconds,
                      **{k: v for k, v in info.items() if k != "seconds"},
                      "trace": {k: [round(float(x), 6) for x in v[i]] for k, v in inpainter.last_trace.items()
                                if v and v[i] is not None}}
            atomic_write_bytes(trace_path, (json.dumps(record, indent=1) + "\n").encode(),
                               overwrite=args.overwrite, protect=protect)
