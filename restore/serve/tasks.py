"""What a server job does: the tasks' own option parsing, then the pipelines, on uploaded files.

Nothing here restores images itself. Options arrive as form fields named like the CLI's long options
(``steps=10`` is ``--steps 10``) and are parsed by :func:`restore.settings.task_parser`, the options the
``restore inpaint`` / ``restore sr`` commands are built from, so ranges, choices, defaults and error
messages are the CLI's. The work is :class:`restore.pipelines.Inpainter` /
:class:`restore.pipelines.SuperResolver` between :func:`restore.io.read_image` and
:func:`restore.io.write_image`, with the settings of :func:`restore.settings.inpaint_settings` /
:func:`restore.settings.sr_settings` and the output names of :mod:`restore.outputs`, as in
``cli/inpaint.py`` and ``cli/sr.py``; metrics are ``restore metrics``' own scoring
(:func:`restore.metrics.pairs.score_pair`).

Only an allow-list of options is accepted: nothing that names a path (``--output``, ``--mask`` as a
path, a ``--model`` file) or changes the server (``--device``), and ``model`` must be a registry name.

Example:
    >>> opts = parse_options("sr", {"model": "bicubic", "outscale": "2"})
    >>> opts.args.model, opts.args.outscale, opts.output_format
    ('bicubic', 2.0, 'png')
    >>> parse_options("inpaint", {"steps": "many"})
    Traceback (most recent call last):
    ...
    restore.serve.tasks.FieldError: field steps: expected an integer, got 'many'
"""

from __future__ import annotations

import argparse
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RestoreError
from ..settings import TASK_OPTIONS

#: Option fields each task accepts: the CLI's long options without the dashes (nothing that names a path,
#: nothing that changes the server: :data:`restore.settings.TASK_OPTIONS`).
OPTION_FIELDS = {"inpaint": TASK_OPTIONS["inpaint"], "sr": TASK_OPTIONS["sr"], "preview": ()}
#: Fields every task accepts beside its options: the output format and the metrics protocol
#: (``restore metrics --y-channel --crop-border N``), used when a ``reference`` file is sent.
COMMON_FIELDS = ("format", "y-channel", "crop-border")
#: File fields each task accepts (``image`` is required everywhere, ``mask`` for inpainting).
FILE_FIELDS = {"inpaint": ("image", "mask", "reference"), "sr": ("image", "reference"), "preview": ("image",)}
REQUIRED_FILES = {"inpaint": ("image", "mask"), "sr": ("image",), "preview": ("image",)}
#: ``format``: png (default), the input's own format (``input``, as ``restore sr --ext auto``), jpg, webp.
FORMATS = ("png", "input", "jpg", "webp")
#: Option fields that are on/off flags on the command line.
FLAG_FIELDS = ("invert-mask",)
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp"}
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no", "")


class FieldError(RestoreError):
    """A form field the server cannot take (unknown, repeated, out of range): HTTP 400."""


@dataclass
class Options:
    """A request's parsed options.

    Attributes:
        task: ``"inpaint"``, ``"sr"`` or ``"preview"``.
        args: the CLI's ``argparse.Namespace`` for that command (``None`` for ``preview``).
        output_format: one of :data:`FORMATS`.
        y_channel, crop_border: the metrics protocol, ``None`` = the task's default.
        given: the option fields as received (for the job's status).
    """

    task: str
    args: argparse.Namespace | None
    output_format: str = "png"
    y_channel: bool | None = None
    crop_border: int | None = None
    given: dict = field(default_factory=dict)


_parser_lock = threading.Lock()
_parser_cache: dict = {}


def _task_parser(task: str) -> argparse.ArgumentParser:
    """The parser of ``task``'s options (:func:`restore.settings.task_parser`), built once per task."""
    with _parser_lock:
        if task not in _parser_cache:
            from ..settings import task_parser

            _parser_cache[task] = task_parser(task)
        return _parser_cache[task]


def _field_message(text: str) -> str:
    """``argument --steps: expected ...`` -> ``field steps: expected ...``."""
    return re.sub(r"argument --([\w-]+)(?:/-\w)?:", r"field \1:", text)


def _flag(name: str, value: str) -> bool:
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise FieldError(f"field {name}: expected true or false, got {value!r}")


def served_models(task: str) -> list[str]:
    """Model names a request may ask for: shipped registry models whose file is installed, plus for
    ``sr`` the classical upscalers. ``task``: ``"sr"``, ``"gan"`` or ``"vae"``."""
    from ..registry import list_models

    names = [e.name for e in list_models(task) if e.path.is_file()]
    if task == "sr":
        from ..archs.classical import CLASSICAL_UPSCALERS

        names = ["auto", *names, *CLASSICAL_UPSCALERS]  # auto: the per-image choice `restore sr` makes
    return names


def parse_options(task: str, fields: dict[str, str]) -> Options:
    """Parse a request's option fields with the CLI's parser for ``task``.

    Args:
        task: ``"inpaint"``, ``"sr"`` or ``"preview"``.
        fields: ``{name: text}`` of the non-file form fields.

    Raises:
        FieldError: an unknown field, a value the CLI would refuse (its message, ``--steps`` shown as
            ``field steps``), or a model the server does not offer.
    """
    from ..settings import OptionError, number

    allowed = OPTION_FIELDS[task] + COMMON_FIELDS
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise FieldError(f"unknown field {unknown[0]!r} for {task} (fields: {', '.join(allowed)}, and the files "
                         f"{', '.join(FILE_FIELDS[task])})")
    opts = Options(task=task, args=None, given=dict(fields))
    fmt = fields.get("format", "png").strip().lower()
    if fmt not in FORMATS:
        raise FieldError(f"field format: invalid choice: {fmt!r} (choose from {', '.join(FORMATS)})")
    opts.output_format = fmt
    if "y-channel" in fields:
        opts.y_channel = _flag("y-channel", fields["y-channel"])
    if "crop-border" in fields:
        try:
            opts.crop_border = number(int, low=0, high=4096)(fields["crop-border"])
        except argparse.ArgumentTypeError as exc:
            raise FieldError(f"field crop-border: {exc}") from None
    if task == "preview":
        return opts

    # The tasks' own parser does the checking (the one the CLI's commands are built from).
    argv = []
    for name in OPTION_FIELDS[task]:
        if name not in fields:
            continue
        if name in FLAG_FIELDS:
            argv += [f"--{name}"] if _flag(name, fields[name]) else []
        else:
            argv.append(f"--{name}={fields[name]}")  # one token: a value starting with '-' stays a value
    parser = _task_parser(task)
    try:
        with _parser_lock:  # argparse keeps no per-call state, but one parse at a time costs nothing
            args = parser.parse_args(argv)
    except OptionError as exc:
        raise FieldError(_field_message(str(exc))) from None
    except SystemExit:  # argparse's own exits (e.g. --help) cannot come from '--name=value' tokens; be safe
        raise FieldError("the options could not be parsed") from None
    for name, task_of_model in (("model", {"inpaint": None, "sr": "sr"}[task]), ("vae-model", "vae")):
        value = getattr(args, name.replace("-", "_"), None)
        if value is None:
            continue
        offered = (served_models("gan") + served_models("vae")) if task_of_model is None else served_models(task_of_model)
        if value not in offered:
            raise FieldError(f"field {name}: {value!r} is not a model this server offers (choose from "
                             f"{', '.join(offered) or 'none'}); the server opens no file named by a request")
    opts.args = args
    return opts


# ---------------------------------------------------------------------------------------------- the work


class PipelineCache:
    """The last few pipelines built, keyed by their settings (loading weights once, not per request).

    Used by the server's single worker thread only.
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get(self, key, build):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = build()
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


@dataclass
class Outcome:
    """A finished job's result file and what the page shows about it.

    Attributes:
        path: the written file (in the job's private folder).
        download_name: the CLI's output name for the upload (``photo.png`` -> ``photo_inpainted.png``).
        media_type: e.g. ``"image/png"``.
        width, height: of the result in pixels.
        metrics: ``{"psnr", "ssim", "y_channel", "crop_border"}`` against the ``reference`` upload, or
            ``{"error": ...}`` when it could not be compared, or ``None`` without a reference.
        info: a few facts: ``requested`` (the method or model asked for), ``method`` / ``model`` used,
            ``reason`` (why ``auto`` chose them, as the CLI prints it), scale, crop used...
    """

    path: Path
    download_name: str
    media_type: str
    width: int
    height: int
    metrics: dict | None = None
    info: dict = field(default_factory=dict)


_FORMAT_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tiff", "BMP": ".bmp"}


def _output_path(folder: Path, stem: str, image, suffix: str, output_format: str) -> Path:
    """Where the result goes, by the CLI's own naming rule (:func:`restore.outputs.plan_outputs`)."""
    from ..outputs import plan_outputs

    source = folder / f"{stem}{_FORMAT_EXT.get(image.format or '', '.png')}"  # the upload under its real format
    ext = "auto" if output_format == "input" else output_format
    return plan_outputs([source], output=str(folder / "out"), suffix=suffix, ext=ext,
                        has_alpha=lambda _: image.alpha is not None)[0]


def _score(reference: Path, result: Path, y_channel: bool, crop_border: int) -> dict:
    """``restore metrics REF RESULT [--y-channel] [--crop-border N]`` for one pair (its own code)."""
    from ..metrics.pairs import score_pair

    row = score_pair(reference, result, y_channel=y_channel, crop_border=crop_border)
    finite = {k: (v if math.isfinite(v) else str(v)) for k, v in row.items() if k in ("psnr", "ssim")}
    return {**finite, "y_channel": y_channel, "crop_border": crop_border}


def run_task(opts: Options, files: dict[str, Path], folder: Path, stem: str, *, device: str,
             cache: PipelineCache) -> Outcome:
    """Run one request: read the uploads, restore, write the result into ``folder``, score it.

    Args:
        opts: from :func:`parse_options`.
        files: ``{"image": path, "mask": path, "reference": path}`` of the saved uploads.
        folder: the job's private folder (the result is written there).
        stem: the upload's file stem, for the download name.
        device: the server's ``--device``.
        cache: pipelines kept between jobs.

    Raises:
        RestoreError: what the CLI would print for the same files and options (paths are the
            caller's to replace by the uploads' names).
    """
    from ..io import read_image, write_image
    from ..outputs import INPAINT_SUFFIX, sr_suffix

    image = read_image(files["image"])
    info: dict = {}
    if opts.task == "preview":
        dst = folder / "preview.png"
        write_image(dst, image, bit_depth=8, icc_profile=b"")  # what a browser shows: 8-bit PNG
        return Outcome(dst, f"{stem}.png", "image/png", *image.size)
    args = opts.args
    if opts.task == "inpaint":
        from ..inpainting.masks import load_mask
        from ..pipelines.inpainting import Inpainter
        from ..settings import inpaint_settings

        known = load_mask(files["mask"], tuple(image.tensor.shape[-2:]), invert=args.invert_mask)
        # progress=True: the search's bar reports its steps to the job (restore.device.progress_to), never stderr
        settings = {**inpaint_settings(args, device=device), "progress": True}
        key = ("inpaint", args.model, args.method, tuple(sorted(settings.items())))
        inpainter = cache.get(key, lambda: Inpainter.from_pretrained(args.model, args.method, **settings))
        out = inpainter.inpaint(image.tensor, known)
        result = image.with_pixels(out, image.alpha)
        suffix = INPAINT_SUFFIX
        info = {"requested": args.method, "method": args.method, "model": inpainter.name,
                **{k: v for k, v in inpainter.last_info[0].items()
                   if k in ("method", "model", "reason", "crop", "upscale", "loss")}}
    else:
        from ..io import flatten_alpha
        from ..pipelines.super_resolution import SuperResolver
        from ..settings import sr_settings

        settings = sr_settings(args)  # as `restore sr`
        auto = args.model in (None, "auto")  # the default, as `restore sr`: the model chosen per image
        if auto:
            from ..metrics.noreference import jpeg_quality
            from ..pipelines.sr_auto import AutoSuperResolver
            from ..settings import DEFAULT_SR_SCALE

            settings["scale"] = args.scale or DEFAULT_SR_SCALE
        key = ("sr", args.model, device, args.precision, args.tile, args.tile_pad, settings["scale"])
        settings["progress"] = True  # the tiles' bar reports to the job (restore.device.progress_to), never stderr
        resolver = cache.get(key, lambda: AutoSuperResolver(device=device, compile=False, **settings) if auto
                             else SuperResolver.from_pretrained(args.model, device=device, compile=False, **settings))
        outscale = args.outscale if args.outscale is not None else resolver.scale
        if auto:
            colour, alpha = resolver.upscale(image.tensor, image.alpha, outscale=outscale,
                                             jpeg_quality=jpeg_quality(files["image"]))
        else:
            colour, alpha = resolver.upscale(image.tensor, image.alpha, outscale=outscale)
        if alpha is not None and args.background is not None:
            colour, alpha = flatten_alpha(colour, alpha, args.background), None
        result = image.with_pixels(colour, alpha)
        suffix = sr_suffix(outscale)
        info = {"requested": args.model or "auto", "model": resolver.name, "scale": resolver.scale,
                "outscale": outscale}
        if auto:
            info.update(method="auto", model=resolver.last_choice.model, reason=resolver.last_choice.reason)
    dst = _output_path(folder, stem, image, suffix, opts.output_format)
    write_image(dst, result)
    metrics = None
    if "reference" in files:
        y_channel = opts.y_channel if opts.y_channel is not None else opts.task == "sr"
        crop = opts.crop_border if opts.crop_border is not None else (
            int(round(info["outscale"])) if opts.task == "sr" else 0)
        try:
            metrics = _score(files["reference"], dst, y_channel, crop)
        except RestoreError as exc:  # a reference of another size: the result still stands
            metrics = {"error": str(exc)}
    width, height = result.size
    return Outcome(dst, dst.name, MEDIA_TYPES.get(dst.suffix.lower(), "application/octet-stream"), width, height,
                   metrics, info)
