"""User-facing errors.

A :class:`RestoreError` is a problem with what the user gave us (a file, a flag, a model name). The
command line prints its message as one line and exits non-zero, never with a traceback.
"""


class RestoreError(Exception):
    """A problem with the user's input, reported as one line (``restore: error: <message>``)."""


class ImageReadError(RestoreError):
    """An input image is missing, empty, truncated, not an image, unsupported or too large."""


class OutputExistsError(RestoreError):
    """An output path exists (and ``--overwrite`` was not given) or would replace an input."""


def run_script(main, argv: list[str] | None = None, *, prog: str | None = None):
    """Run a script's ``main(argv)`` (benchmarks, tools) the way the command line runs a command.

    A :class:`RestoreError`, a missing file (e.g. the data a benchmark reads is not on this machine) or a
    ``SystemExit`` with a message ends in one line on stderr and exit status 2, never a traceback; otherwise
    ``main``'s return value is the exit status (``None`` or a result object: 0).

    Example:
        >>> def main(argv):
        ...     raise RestoreError("../shared/data/sr/val/sun_hays80: no such file or folder")
        >>> try:
        ...     run_script(main, [], prog="sr_eval")
        ... except SystemExit as stop:
        ...     print(stop.code)
        2
    """
    import os
    import sys

    prog = prog or os.path.basename(sys.argv[0]) or "script"
    try:
        result = main(argv)
    except (RestoreError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except SystemExit as stop:  # ``raise SystemExit("one line")`` in a script is a user error as well
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
            raise SystemExit(2) from None
        raise
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(result if isinstance(result, int) else 0)
