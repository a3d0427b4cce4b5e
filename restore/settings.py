"""The options of the two restoring tasks, ``sr`` and ``inpaint``: each one's check, default and help, once.

Both front ends stand on this module: the command line (``cli/sr.py``, ``cli/inpaint.py``) adds these
options to its parsers with :func:`add_options`, and the server (:mod:`restore.serve.tasks`) parses its
form fields with :func:`task_parser`, so ranges, choices, defaults and error messages are the same in
both. :func:`sr_settings` and :func:`inpaint_settings` turn parsed options into the keyword arguments of
:meth:`restore.pipelines.SuperResolver.from_pretrained` / :meth:`restore.pipelines.Inpainter.from_pretrained`
(the defaults the options leave open, such as the scale 4 and the learning rate, are filled in here).

Only light imports (argparse, math): ``restore --help`` builds its parsers from this module.

Example:
    >>> args = task_parser("sr").parse_args(["--outscale=2"])
    >>> args.model, args.outscale, sr_settings(args)["scale"]
    (None, 2.0, 4)
    >>> task_parser("inpaint").parse_args(["--steps=many"])
    Traceback (most recent call last):
    ...
    restore.settings.OptionError: argument --steps: expected an integer, got 'many'
"""

from __future__ import annotations

import argparse
import math

from .errors import RestoreError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PRECISION_HELP = ("compute precision: auto = bf16 on CUDA GPUs and on CPUs with bf16 units (AMX / AVX512-BF16), "
                  "fp32 elsewhere (RESTORE_CPU_BF16=0|1 overrides the CPU detection); fp16 is CUDA-only")
#: ``restore sr``'s scale when neither ``--scale`` nor ``--model`` is given (the shipped srresnet-x4).
DEFAULT_SR_SCALE = 4


def number(kind=float, *, low=None, high=None, low_open: bool = False):
    """An argparse ``type`` for a finite ``kind`` (int or float) in ``[low, high]`` (``(low, high]`` with ``low_open``).

    NaN and infinities are refused, so ``--lambda nan`` cannot silently fill holes with black.

    >>> number(int, low=0)("3"), number(float, high=1)("0.5")
    (3, 0.5)
    """
    def parse(text: str):
        try:
            value = kind(text) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


SEED = number(int, low=0, high=2**63 - 1)

#: Each task's options by name (the long option without its dashes), in the order the server lists them.
TASK_OPTIONS = {
    "inpaint": ("method", "model", "vae-model", "steps", "restarts", "lambda", "lr", "seed", "blend",
                "blend-solver", "margin", "invert-mask", "precision"),
    "sr": ("model", "scale", "outscale", "tile", "tile-pad", "precision", "background"),
}


def _precision() -> tuple[tuple[str, ...], dict]:
    return ("--precision",), dict(default="auto", choices=PRECISIONS, help=PRECISION_HELP)


def option_specs(task: str) -> dict[str, tuple[tuple[str, ...], dict]]:
    """``{name: (flags, argparse keyword arguments)}`` of ``task``'s options (see :data:`TASK_OPTIONS`)."""
    if task == "sr":
        return {
            "scale": (("--scale",), dict(type=int, choices=(2, 4, 8), default=None,
                                         help=f"the model's upscaling factor (default: {DEFAULT_SR_SCALE}, "
                                              f"or the --model's own)")),
            "model": (("--model",), dict(default=None, metavar="NAME|PATH",
                                         help="auto (default: per image, the real-world model for compressed or "
                                              "noisy inputs, else the bicubic-trained one), a registry name (see "
                                              "`restore models`), a local .safetensors with its .json card, or "
                                              "bicubic / lanczos (classical, no weights)")),
            "outscale": (("--outscale",), dict(
                type=number(float, low=0, low_open=True, high=64), default=None, metavar="F",
                help="final factor relative to the input (default: the model's scale); the model "
                     "runs first, then an antialiased resize to round(F*W) x round(F*H)")),
            "tile": (("--tile",), dict(type=number(int, low=0), default=0, metavar="N",
                                       help="tile size in input pixels (0 = automatic; minimum 16); memory grows "
                                            "with N^2; any N gives the untiled result (within 1e-3) with the "
                                            "default --tile-pad")),
            "tile-pad": (("--tile-pad",), dict(type=number(int, low=0), default=None, metavar="P",
                                               help="context pixels around each tile (default: the model's "
                                                    "receptive radius, exact)")),
            "precision": _precision(),
            "background": (("--background",), dict(
                default=None, metavar="COLOUR",
                help="flatten alpha onto this colour (white, black, #rrggbb); without it an image with "
                     "alpha is refused for --ext jpg (JPEG has no alpha)")),
        }
    if task == "inpaint":
        from .inpainting.methods import METHOD_CHOICES

        return {
            "model": (("--model",), dict(default=None, metavar="NAME|PATH",
                                         help="the prior (GAN for gan/gan-vae-init, VAE for vae); default: the "
                                              "shipped one")),
            "vae-model": (("--vae-model",), dict(default=None, metavar="NAME|PATH",
                                                 help="the encoder for gan-vae-init (default: the VAE trained on "
                                                      "the GAN's data)")),
            "method": (("--method",), dict(default="auto", choices=METHOD_CHOICES,
                                           help="default: auto (a prior only where the image is in its domain, "
                                                "else classical)")),
            "steps": (("--steps",), dict(type=number(int, low=0, high=100_000), default=None, metavar="N",
                                         help="Adam steps (default on CPU: 50; 1000 on CUDA)")),
            "restarts": (("--restarts",), dict(type=number(int, low=1, high=4096), default=None, metavar="K",
                                               help="restarts searched together (default on CPU: 1 from an "
                                                    "encoder's start, gan-vae-init and auto on faces, else 4; "
                                                    "16 on CUDA)")),
            "lambda": (("--lambda",), dict(dest="lam", type=number(float, low=0), default=0.003, metavar="L",
                                           help="weight of the prior loss (default: 0.003, the paper's)")),
            "lr": (("--lr",), dict(type=number(float, low=0, low_open=True), default=None, metavar="LR",
                                   help="Adam learning rate (default: 0.03)")),
            "seed": (("--seed",), dict(type=SEED, default=0, metavar="S", help="seed of the restarts (default: 0)")),
            "blend": (("--blend",), dict(default="poisson", choices=("poisson", "none"), help="default: poisson")),
            "blend-solver": (("--blend-solver",), dict(default="exact", choices=("exact", "opencv"),
                                                       help="exact sparse Poisson solve (default) or OpenCV "
                                                            "seamlessClone")),
            "margin": (("--margin",), dict(type=number(float, low=0, high=100), default=0.5, metavar="F",
                                           help="context around the hole for images not at the prior's size, as a "
                                                "fraction of the hole's side (default: 0.5)")),
            "invert-mask": (("--invert-mask",), dict(action="store_true",
                                                     help="black marks the hole instead of white")),
            "precision": _precision(),
        }
    raise ValueError(f"unknown task {task!r} (use {', '.join(TASK_OPTIONS)})")


def add_options(parser: argparse.ArgumentParser, task: str, names=None) -> None:
    """Add ``task``'s options ``names`` (default: all of :data:`TASK_OPTIONS` ``[task]``) to ``parser``, in that order."""
    specs = option_specs(task)
    for name in names if names is not None else TASK_OPTIONS[task]:
        flags, kwargs = specs[name]
        parser.add_argument(*flags, **kwargs)


class ExplicitValueParser(argparse.ArgumentParser):
    """argparse, but ``--name=--`` gives ``name`` the value ``--``.

    Python 3.11's argparse drops a ``--`` even when it is an option's explicit value, and leaves the option
    an empty list that no ``type`` checked (``--outscale=--`` became ``[]``: an internal error later, a 500 in
    the server, whose fields are passed as ``--name=value``). Here it is the value, checked as any other.
    """

    def _get_values(self, action, arg_strings):
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


class OptionError(RestoreError):
    """An option value :func:`task_parser` refuses; the message is argparse's (``argument --steps: ...``)."""


class _OptionParser(ExplicitValueParser):
    def error(self, message: str):
        raise OptionError(message)


def task_parser(task: str) -> argparse.ArgumentParser:
    """A parser of ``task``'s options alone (no paths, no ``--help``); a refused value raises :class:`OptionError`.

    Pass values as one ``--name=value`` token each, so a value starting with ``-`` stays a value.
    """
    parser = _OptionParser(prog=f"restore {task}", add_help=False, allow_abbrev=False)
    add_options(parser, task)
    return parser


def sr_settings(args: argparse.Namespace) -> dict:
    """``SuperResolver.from_pretrained(args.model, device=..., compile=..., **sr_settings(args))``'s settings.

    The scale is :data:`DEFAULT_SR_SCALE` unless ``--scale`` or ``--model`` says otherwise (a model knows
    its own).

    Raises:
        RestoreError: a non-positive ``outscale``.
    """
    if args.outscale is not None and not args.outscale > 0:
        raise RestoreError(f"--outscale must be positive, got {args.outscale}")
    scale = args.scale if args.scale is not None or args.model is not None else DEFAULT_SR_SCALE
    return dict(precision=args.precision, tile=args.tile, tile_pad=args.tile_pad, scale=scale)


def inpaint_settings(args: argparse.Namespace, *, device) -> dict:
    """``Inpainter.from_pretrained(args.model, args.method, **inpaint_settings(args, device=...))``'s settings.

    The learning rate is :data:`restore.inpainting.semantic.DEFAULT_LR` unless ``--lr`` is given.

    Raises:
        RestoreError: ``steps`` < 0 or ``restarts`` < 1.
    """
    if args.steps is not None and args.steps < 0:
        raise RestoreError(f"--steps must be >= 0, got {args.steps}")
    if args.restarts is not None and args.restarts < 1:
        raise RestoreError(f"--restarts must be >= 1, got {args.restarts}")
    from .inpainting.semantic import DEFAULT_LR

    return dict(vae=args.vae_model, device=device, steps=args.steps, restarts=args.restarts, lam=args.lam,
                lr=args.lr if args.lr is not None else DEFAULT_LR, seed=args.seed, blend=args.blend,
                blend_solver=args.blend_solver, margin=args.margin, precision=args.precision)
