"""Poisson blending of a fill into the hole, so the seam disappears (Perez et al. 2003).

Inside the hole the result keeps the fill's gradients (its Laplacian) while matching the known
pixels at the hole's border. Two solvers:

* ``"exact"`` (default): the discrete Poisson equation on the hole's pixels with Dirichlet values
  from the known neighbours, solved by a sparse LU factorisation (SciPy), once per image for all
  channels. Float precision; holes touching the image border get a natural (Neumann) boundary there.
* ``"opencv"``: OpenCV ``seamlessClone`` with ``NORMAL_CLONE`` (8-bit, colour). The images are
  padded by reflection first, because OpenCV needs the mask away from the image border.

Either way the known pixels are composited back at the end, so outside the hole the output equals
the input exactly.

Example:
    >>> import torch
    >>> from restore.inpainting.blending import poisson_blend
    >>> y = torch.full((1, 1, 8, 8), 0.5); fill = torch.full((1, 1, 8, 8), 0.9)
    >>> known = torch.ones(1, 1, 8, 8); known[..., 2:6, 2:6] = 0
    >>> out = poisson_blend(fill, y, known)
    >>> round(float(out[0, 0, 4, 4]), 4)  # a flat fill takes the border's level
    0.5
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import RestoreError

BLEND_METHODS = ("exact", "opencv")


def composite(fill: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """``M * y + (1 - M) * fill``: known pixels bit-for-bit from ``target``."""
    return torch.where(known.bool().expand_as(target), target, fill.to(target.dtype))


def _solve_exact(fill: np.ndarray, target: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """One image: ``fill``/``target`` ``(C, H, W)`` float64, ``hole`` ``(H, W)`` bool -> blended ``(C, H, W)``."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    c, h, w = target.shape
    index = -np.ones((h, w), np.int64)
    ys, xs = np.nonzero(hole)
    n = ys.size
    index[ys, xs] = np.arange(n)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], []
    diag = np.zeros(n)
    rhs = np.zeros((c, n))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ys + dy, xs + dx
        inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)  # outside the image: no constraint (Neumann)
        p = np.nonzero(inside)[0]
        qy, qx = qy[inside], qx[inside]
        diag[p] += 1
        rhs[:, p] += fill[:, ys[p], xs[p]] - fill[:, qy, qx]  # guidance: the fill's gradient
        q_index = index[qy, qx]
        in_hole = q_index >= 0
        rows.append(p[in_hole])
        cols.append(q_index[in_hole])
        vals.append(-np.ones(int(in_hole.sum())))
        known_p = p[~in_hole]
        rhs[:, known_p] += target[:, qy[~in_hole], qx[~in_hole]]  # Dirichlet: the known border
    matrix = sp.csc_matrix((np.concatenate([diag] + vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n, n))
    solution = splu(matrix).solve(rhs.T)  # (n, C): one factorisation for all channels
    out = target.copy()
    out[:, ys, xs] = solution.T
    return out


def _opencv_clone(fill: np.ndarray, target: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """One image through ``cv2.seamlessClone`` (8-bit, 3 channels), padded away from the border."""
    import cv2

    c = target.shape[0]
    pad = 4
    to8 = lambda a: np.clip(np.round(a * 255), 0, 255).astype(np.uint8)  # noqa: E731
    src = np.ascontiguousarray(np.repeat(fill, 3, 0) if c == 1 else fill).transpose(1, 2, 0)
    dst = np.ascontiguousarray(np.repeat(target, 3, 0) if c == 1 else target).transpose(1, 2, 0)
    src = cv2.copyMakeBorder(to8(src), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    dst = cv2.copyMakeBorder(to8(dst), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    mask = np.zeros(src.shape[:2], np.uint8)
    # Dilate by one pixel so the hole's known border is inside OpenCV's region and sets its boundary.
    mask[pad:-pad, pad:-pad] = cv2.dilate(hole.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(mask)
    # OpenCV places the mask's bounding box at center - (len // 2) with len = max - min: invert that.
    center = (int(xs.min() + (xs.max() - xs.min()) // 2), int(ys.min() + (ys.max() - ys.min()) // 2))
    out = cv2.seamlessClone(src, dst, mask, center, cv2.NORMAL_CLONE)
    out = out[pad:-pad, pad:-pad].astype(np.float64).transpose(2, 0, 1) / 255.0
    return out[:1] if c == 1 else out


def poisson_blend(fill: torch.Tensor, target: torch.Tensor, known: torch.Tensor, *,
                  method: str = "exact") -> torch.Tensor:
    """Blend ``fill`` into the hole of ``target``; known pixels come back exactly.

    Args:
        fill: ``(B, C, H, W)`` in [0, 1], the content for the hole (e.g. G(z*)).
        target: ``(B, C, H, W)`` in [0, 1], the image with the hole.
        known: ``(B, 1, H, W)`` (1 = known, 0 = hole).
        method: ``"exact"`` (sparse Poisson solve) or ``"opencv"`` (``seamlessClone``).

    Returns:
        ``(B, C, H, W)`` in [0, 1], equal to ``target`` wherever ``known`` is 1.
    """
    if method not in BLEND_METHODS:
        raise RestoreError(f"unknown blending {method!r} (use {', '.join(BLEND_METHODS)})")
    if fill.shape != target.shape:
        raise ValueError(f"fill {tuple(fill.shape)} and target {tuple(target.shape)} differ in shape")
    solver = _solve_exact if method == "exact" else _opencv_clone
    out = []
    for f, t, k in zip(fill.detach().double().cpu().numpy(), target.detach().double().cpu().numpy(),
                       known.detach().cpu().numpy()):
        hole = k[0] < 0.5
        out.append(solver(f, t, hole) if hole.any() and not hole.all() else f)
    blended = torch.from_numpy(np.stack(out)).to(target.device, target.dtype).clamp(0, 1)
    return composite(blended, target, known)
