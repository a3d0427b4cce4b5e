"""Where results go: the output naming rule both front ends (``restore sr`` / ``restore inpaint``, the server) use.

Each input ``STEM.EXT`` is written as ``STEM{suffix}.{ext}``: the suffix is ``_x<outscale>`` for
super-resolution (:func:`sr_suffix`) and ``_inpainted`` for inpainting (:data:`INPAINT_SUFFIX`); with
``ext="auto"`` the input's own extension is kept (PNG when the image has alpha and the format cannot hold
it). Without an output folder a file's result goes next to it and the files of a folder input ``FOLDER``
go to ``FOLDER{suffix}/`` beside it (:func:`folder_outputs`); restore's own earlier results lying beside
their inputs are not taken as inputs (:func:`drop_own_outputs`). :func:`plan_outputs` refuses collisions
and never lets an output replace an input. :data:`OWN_SUFFIX` recognises these suffixes again (``restore
metrics`` pairs ``a.png`` with ``a_x4.png``).

Example:
    >>> from pathlib import Path
    >>> [p.name for p in plan_outputs([Path("photo.jpg")], output=None, suffix=sr_suffix(2.5), ext="auto")]
    ['photo_x2.5.jpg']
"""

from __future__ import annotations

import re
from pathlib import Path

#: what ``restore inpaint`` appends to its outputs' stems.
INPAINT_SUFFIX = "_inpainted"
#: what restore appends to its outputs' stems: _x4, _x2.5 (sr) and _inpainted (inpaint).
OWN_SUFFIX = re.compile(r"(_x\d+(\.\d+)?|_inpainted)$")


def format_factor(factor: float) -> str:
    """``4.0`` -> ``"4"``, ``2.5`` -> ``"2.5"`` (as in ``_x2.5``)."""
    return f"{factor:g}"


def sr_suffix(outscale: float) -> str:
    """The super-resolution suffix for a final factor: ``_x4``, ``_x2.5``."""
    return f"_x{format_factor(outscale)}"


def folder_outputs(items: list[str], files: list[Path], tag: str) -> dict[Path, Path]:
    """Default output folders for files that came from a folder input: ``photos/`` -> ``photos{tag}/``
    beside it (sub-folders kept), so a second run never finds the first run's results among its inputs."""
    out: dict[Path, Path] = {}
    for item in items:
        root = Path(item)
        if not root.is_dir():
            continue
        dest = root.resolve().parent / (root.resolve().name + tag)
        for f in files:
            try:
                rel = f.resolve().relative_to(root.resolve())
            except ValueError:
                continue
            out.setdefault(f, dest / rel.parent)
    return out


def drop_own_outputs(files: list[Path], suffix: str) -> list[Path]:
    """Files minus restore's results lying beside their inputs (``a.png`` and ``a{suffix}.png``: keep ``a.png``)."""
    stems = {(f.parent, f.stem) for f in files}
    return [f for f in files if not (suffix and f.stem.endswith(suffix) and (f.parent, f.stem[: -len(suffix)]) in stems)]


def plan_outputs(files: list[Path], *, output: str | None, suffix: str, ext: str,
                 has_alpha=lambda path: False, folder_of: dict[Path, Path] | None = None) -> list[Path]:
    """Where each input goes, by the rule above; refuses collisions and input clobbering.

    ``has_alpha(path)`` is consulted only with ``ext == "auto"`` for JPEG/BMP inputs; ``folder_of``
    (from :func:`folder_outputs`) gives the folder of files from folder inputs when there is no ``output``.

    Raises:
        RestoreError: a suffix with a path separator, ``output`` an existing file, two inputs to one
            output, or an output that is an input.
    """
    from .errors import RestoreError
    from .io import IMAGE_EXTENSIONS, resolve_path

    if any(sep in suffix for sep in ("/", "\\", "\0")) or suffix in (".", ".."):
        raise RestoreError(f"--suffix {suffix!r} must not contain path separators (use -o for another folder)")
    if output is not None and Path(output).is_file() and not (
            len(files) == 1 and Path(output).suffix.lower() in IMAGE_EXTENSIONS):
        raise RestoreError(f"-o {output}: is an existing file, not a folder")
    single_file = output is not None and len(files) == 1 and Path(output).suffix.lower() in IMAGE_EXTENSIONS \
        and not Path(output).is_dir()
    plans = []
    for src in files:
        if single_file:
            plans.append(Path(output))
            continue
        out_ext = ext
        if ext == "auto":
            out_ext = src.suffix.lower().lstrip(".") or "png"
            if src.suffix.lower() not in IMAGE_EXTENSIONS:
                out_ext = "png"
            elif out_ext in ("jpg", "jpeg", "bmp") and has_alpha(src):
                out_ext = "png"
        folder = Path(output) if output is not None else (folder_of or {}).get(src, src.parent)
        plans.append(folder / f"{src.stem}{suffix}.{out_ext}")
    inputs = {resolve_path(f) for f in files}
    seen: dict[Path, Path] = {}
    for src, dst in zip(files, plans):
        key = resolve_path(dst)
        if key in inputs:
            raise RestoreError(f"{dst}: would overwrite an input (choose another -o or --suffix)")
        if key in seen:
            raise RestoreError(f"{seen[key]} and {src} would both be written to {dst} (use separate runs or -o)")
        seen[key] = src
    return plans


def file_has_alpha(path: Path) -> bool:
    """Whether the image file at ``path`` has an alpha plane or a transparent colour (``False`` if unreadable)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.mode in ("LA", "PA", "RGBA") or "transparency" in img.info
    except Exception:  # noqa: BLE001 - unreadable files are reported when processed
        return False
