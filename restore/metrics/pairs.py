"""Scoring image files against their references: ``restore metrics`` and the server's ``reference`` upload.

:func:`match_pairs` pairs two files, or two folders by file stem (the test stems without restore's own
suffixes, ``a.png`` <-> ``a_x4.png``); :func:`score_pair` reads one pair and returns its PSNR / SSIM
(/ LPIPS) row. Colour planes are compared (alpha is ignored); a gray image against a colour one is
compared as colour.
"""

from __future__ import annotations

from pathlib import Path

from ..outputs import OWN_SUFFIX


def stem_key(path: Path, suffixes: list[str] | None) -> str:
    """The stem ``path`` is matched by: without restore's own suffix (``suffixes=None``) or the first of
    ``suffixes`` it ends with.

    >>> stem_key(Path("a_x4.png"), None), stem_key(Path("a_big.png"), ["_big"])
    ('a', 'a')
    """
    stem = path.stem
    if suffixes is None:
        return OWN_SUFFIX.sub("", stem)
    for s in suffixes:
        if s and stem.endswith(s):
            return stem[: -len(s)]
    return stem


def match_pairs(ref: Path, test: Path, suffixes: list[str] | None = None) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Pairs of (reference, test) files and the names of files without a counterpart.

    Folders are matched by stem, the test stems without restore's suffixes (``a.png`` <-> ``a_x4.png``) or
    the ``suffixes`` given, whatever the extensions.

    Raises:
        RestoreError: a missing path, a file against a folder, two test files with one stem, no stem in common.
    """
    from ..errors import RestoreError
    from ..io import is_image_file

    for p in (ref, test):
        if not p.exists():
            raise RestoreError(f"{p}: no such file or folder")
    if ref.is_dir() != test.is_dir():
        raise RestoreError("REF and TEST must both be files or both be folders")
    if not ref.is_dir():
        return [(ref, test)], []
    refs = {p.stem: p for p in ref.iterdir() if p.is_file() and is_image_file(p)}
    tests: dict[str, Path] = {}
    for p in sorted(q for q in test.iterdir() if q.is_file() and is_image_file(q)):
        key = stem_key(p, suffixes)
        if key in tests:
            raise RestoreError(f"{tests[key].name} and {p.name} in {test} both match {key} (name --suffix)")
        tests[key] = p
    common = sorted(set(refs) & set(tests))
    if not common:
        raise RestoreError(f"no file stems in common between {ref} and {test} (after removing the suffixes "
                           f"{', '.join(suffixes) if suffixes else '_x<N> and _inpainted'})")
    unmatched = sorted([refs[k].name for k in set(refs) - set(tests)] + [tests[k].name for k in set(tests) - set(refs)])
    return [(refs[n], tests[n]) for n in common], unmatched


def score_pair(ref_path: Path, test_path: Path, *, y_channel: bool = False, crop_border: int = 0,
               lpips_model=None, device=None, dtype=None) -> dict:
    """``{"image", "psnr", "ssim"[, "lpips"]}`` of one pair (LPIPS with ``lpips_model`` on ``device`` in ``dtype``).

    Raises:
        RestoreError: unreadable files, sizes that differ, an image too small for the crop or SSIM.
    """
    import torch

    from ..device import autocast
    from ..errors import RestoreError
    from ..io import read_image
    from .fidelity import psnr, ssim

    ref, test = read_image(ref_path).tensor, read_image(test_path).tensor
    if ref.shape[-2:] != test.shape[-2:]:
        raise RestoreError(f"{test_path}: size {test.shape[-1]}x{test.shape[-2]} differs from "
                           f"{ref_path} ({ref.shape[-1]}x{ref.shape[-2]})")
    if ref.shape[1] != test.shape[1]:  # gray vs colour: compare as colour
        ref, test = ref.expand(-1, 3, -1, -1), test.expand(-1, 3, -1, -1)
    kw = {"crop_border": crop_border, "y_channel": y_channel}
    try:
        row = {"image": ref_path.name, "psnr": float(psnr(test, ref, **kw)[0]), "ssim": float(ssim(test, ref, **kw)[0])}
    except ValueError as exc:
        raise RestoreError(f"{test_path}: {exc}") from None
    if lpips_model is not None:
        with torch.inference_mode(), autocast(device, dtype):
            row["lpips"] = float(lpips_model(test.to(device), ref.to(device))[0])
    return row
