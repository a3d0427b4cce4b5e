"""``restore import-weights FILE.pth --arch msrresnet|srresnet -o NAME.safetensors``: weights from the field's toolbox.

Reads a PyTorch checkpoint with ``torch.load(weights_only=True)`` (tensors and plain containers only, no
code), takes the generator's state dict from it (BasicSR's ``params_ema`` / ``params``, restore's own
training checkpoint ``ema`` / ``generator``, or a bare state dict), infers the network's size from the
tensor shapes, checks that every key and shape fits, and writes safetensors plus a model card with the
file's sha256, so ``restore sr --model NAME.safetensors`` works.

Examples:
    restore import-weights MSRResNet_x4.pth --arch msrresnet --scale 4 -o msrresnet-x4.safetensors
    restore import-weights runs/srresnet_x4/checkpoints/last.pt --arch srresnet --scale 4 -o mine.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("import-weights", help="convert a BasicSR / restore .pth checkpoint to safetensors",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("checkpoint", help="the .pth / .pt file")
    p.add_argument("--arch", required=True, choices=("msrresnet", "srresnet"),
                   help="msrresnet: BasicSR's MSRResNet layout; srresnet: restore's SRResNet")
    p.add_argument("--scale", type=int, choices=(2, 3, 4, 8), required=True, help="the network's upscaling factor")
    p.add_argument("-o", "--output", required=True, help="NAME.safetensors to write (the card goes beside it)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=run)


def _state_dict(obj) -> dict:
    import torch

    from restore.errors import RestoreError

    if isinstance(obj, dict):
        for key in ("params_ema", "params", "ema", "generator", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        state = {k.removeprefix("module."): v for k, v in obj.items() if torch.is_tensor(v)}
        if state:
            return state
    raise RestoreError("the checkpoint holds no state dict of tensors (expected params / params_ema, "
                       "generator / ema, or the tensors themselves)")


def _config(arch: str, state: dict, scale: int) -> dict:
    """Network size from the tensor shapes."""
    from restore.errors import RestoreError

    try:
        if arch == "msrresnet":
            channels, in_channels = state["conv_first.weight"].shape[:2]
            blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
        else:
            channels, in_channels = state["head.0.weight"].shape[:2]
            blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
            norm = "batch" if any(".running_mean" in k for k in state) else "none"
            return {"scale": scale, "num_blocks": blocks, "channels": int(channels),
                    "in_channels": int(in_channels), "norm": norm}
    except KeyError as exc:
        raise RestoreError(f"the checkpoint is not a {arch} (no {exc.args[0]})") from None
    return {"scale": scale, "num_blocks": blocks, "channels": int(channels), "in_channels": int(in_channels)}


def run(args) -> int:
    import torch

    from restore.archs import build
    from restore.errors import OutputExistsError, RestoreError
    from restore.weight_files import export_model

    src, out = Path(args.checkpoint), Path(args.output)
    if not src.is_file():
        raise RestoreError(f"{src}: no such file")
    if out.suffix != ".safetensors":
        raise RestoreError(f"{out}: the output must end in .safetensors")
    if out.exists() and not args.overwrite:
        raise OutputExistsError(f"{out}: already exists (pass --overwrite to replace it)")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)  # restricted unpickler: tensors only
    except Exception as exc:  # noqa: BLE001 - any failure to read is a bad file
        raise RestoreError(f"{src}: cannot read it as a weights-only PyTorch checkpoint "
                           f"({str(exc).splitlines()[0][:200]})") from None
    state = _state_dict(obj)
    config = _config(args.arch, state, args.scale)
    try:
        model = build(args.arch, **config)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError) as exc:
        raise RestoreError(f"{src}: the weights do not fit {args.arch} {config} "
                           f"({str(exc).splitlines()[0][:200]})") from None
    card = {"arch": args.arch, "config": config, "task": "sr", "scale": args.scale,
            "imported_from": {"file": src.name, "format": "BasicSR" if args.arch == "msrresnet" else "restore"},
            "command": "restore " + " ".join(sys.argv[1:])}
    path = export_model(out.parent, out.stem, model.state_dict(), card)
    print(f"wrote {path} and {path.with_suffix('.json').name}: {args.arch} x{args.scale}, "
          f"{config['num_blocks']} blocks of {config['channels']} channels")
    return 0
