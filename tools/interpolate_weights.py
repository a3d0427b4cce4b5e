"""Network interpolation (ESRGAN, Wang et al. 2018): ``(1 - alpha) * A + alpha * B``, tensor by tensor.

Between a PSNR-oriented SRResNet (A) and the SRGAN fine-tuned from it (B), ``alpha`` moves along the
perception-distortion trade-off without retraining: 0 is A, 1 is B. Both must be the same architecture
and config (an SRGAN started from that SRResNet is). The result is written as ``OUT.safetensors`` plus a
model card: B's card, with the interpolation (both sources by path and sha256, ``alpha``) recorded.

Usage:
    python tools/interpolate_weights.py srresnet-x4 runs/srgan_x4/srgan_x4.safetensors --alpha 0.8 \\
        -o runs/srgan_x4_interp/srgan_x4.safetensors
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def interpolate(a: dict, b: dict, alpha: float) -> dict:
    """``(1 - alpha) * a + alpha * b`` for every floating tensor (fp32 arithmetic); others must match."""
    import torch

    if a.keys() != b.keys():
        raise ValueError(f"the two state dicts differ in tensors: {sorted(set(a) ^ set(b))[:5]}")
    out = {}
    for key, va in a.items():
        vb = b[key]
        if va.shape != vb.shape:
            raise ValueError(f"{key}: shapes {tuple(va.shape)} and {tuple(vb.shape)} differ")
        if va.is_floating_point():
            out[key] = torch.lerp(va.float(), vb.float(), alpha)
        elif torch.equal(va, vb):
            out[key] = va
        else:
            raise ValueError(f"{key}: integer tensors differ")
    return out


def main(argv: list[str] | None = None) -> int:
    from restore.errors import RestoreError
    from restore.registry import load_model
    from restore.weight_files import export_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="alpha = 0: registered name or .safetensors (card beside it), e.g. srresnet-x4")
    ap.add_argument("b", help="alpha = 1: the same architecture, e.g. an SRGAN fine-tuned from A")
    ap.add_argument("--alpha", type=float, required=True, help="weight of B, in [0, 1]")
    ap.add_argument("-o", "--out", type=Path, required=True, help="OUT.safetensors (card written beside it)")
    args = ap.parse_args(argv)
    if not 0 <= args.alpha <= 1:
        ap.error(f"--alpha must be in [0, 1], got {args.alpha}")
    try:
        model_a, info_a = load_model(args.a)
        model_b, info_b = load_model(args.b)
    except RestoreError as exc:  # a missing file, a changed file, a card that does not fit
        ap.error(str(exc))
    if (info_a["arch"], info_a["config"]) != (info_b["arch"], info_b["config"]):
        ap.error(f"{args.a} and {args.b} are different architectures or configs")
    state = interpolate(model_a.state_dict(), model_b.state_dict(), args.alpha)
    card_a, card_b = info_a["card"], info_b["card"]
    card = {k: v for k, v in card_b.items() if k not in ("file", "sha256", "dtype")}
    card["interpolation"] = {
        "method": "network interpolation (ESRGAN): (1 - alpha) * a + alpha * b, every tensor",
        "alpha": args.alpha,
        "a": {"source": str(args.a), "sha256": card_a.get("sha256")},
        "b": {"source": str(args.b), "sha256": card_b.get("sha256")},
        "command": "python tools/interpolate_weights.py " + shlex.join(sys.argv[1:] if argv is None else argv),
    }
    path = export_model(args.out.parent, args.out.name.removesuffix(".safetensors"), state, card)
    print(f"wrote {path} (alpha {args.alpha}: {args.a} -> {args.b})")
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
