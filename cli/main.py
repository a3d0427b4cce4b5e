"""``restore``: the command-line entry point.

Every command lives in its own module of this package and exposes ``register(subparsers)``, which
adds its parser and sets ``func``. Errors the user can fix (:class:`restore.errors.RestoreError`)
print as one line and exit with status 2; an unexpected failure prints one line too (set
``RESTORE_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys

from restore.settings import ExplicitValueParser

COMMANDS = ["setup", "info", "metrics", "models", "sr", "inpaint", "project", "sample", "interpolate", "train", "import-weights", "serve"]


class UsageError(Exception):
    """A command-line mistake found by the parser (printed as one line, exit status 2)."""


class OneLineParser(ExplicitValueParser):
    """argparse, but a mistake is one ``restore: error:`` line (the usage is what ``--help`` is for)."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    from restore import __version__

    parser = OneLineParser(
        prog="restore",
        description="Image restoration with generative models: super-resolution (SRResNet/SRGAN) and "
                    "inpainting over GAN/VAE priors, measured with PSNR, SSIM and LPIPS.")
    parser.add_argument("--version", action="version", version=f"restore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"restore.cli.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name == f"restore.cli.{name.replace('-', '_')}":
                continue  # a command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from restore.errors import RestoreError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"restore: error: {exc}", file=sys.stderr)
        return 2
    # the exact command, for model cards (main() called from Python records its argv, not the caller's)
    args.command_line = "restore " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if argv is None:  # the real command: SIGTERM ends it like Ctrl-C, with a word (training saves first)
        import signal

        def _terminated(signum, frame):
            print("restore: terminated", file=sys.stderr)
            raise SystemExit(143)

        signal.signal(signal.SIGTERM, _terminated)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    if getattr(args, "trust_unverified", False):
        os.environ["RESTORE_TRUST_UNVERIFIED"] = "1"  # read by restore.registry.load_model
    try:
        return int(args.func(args) or 0)
    except RestoreError as exc:
        print(f"restore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("restore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `restore models --json | head`: the reader left, nothing is wrong
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python flushes stdout at exit
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - never a traceback unless asked for
        if os.environ.get("RESTORE_DEBUG"):
            raise
        print(f"restore: internal error: {type(exc).__name__}: {exc} (RESTORE_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
