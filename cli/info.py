"""``restore info IMAGE...``: what restore sees in an image (size, mode, bit depth, alpha, orientation, ICC)."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="describe image files (size, mode, depth, alpha, EXIF orientation)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders or globs")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")
    parser.set_defaults(func=run)


_ORIENTATION = {1: "upright", 2: "mirrored", 3: "rotated 180", 4: "flipped vertically",
                5: "transposed", 6: "rotated 90 CW", 7: "transversed", 8: "rotated 90 CCW"}


def run(args) -> int:
    from restore.errors import RestoreError
    from restore.io import expand_inputs, read_image

    failed = 0
    for path in expand_inputs(args.images):
        try:
            img = read_image(path)
        except RestoreError as exc:
            print(f"restore: error: {exc}")
            failed += 1
            continue
        w, h = img.size
        record = {"file": str(path), "format": img.format, "width": w, "height": h, "mode": img.mode,
                  "channels": "gray" if img.is_gray else "RGB", "bit_depth": img.bit_depth,
                  "alpha": img.alpha is not None, "exif_orientation": img.exif_orientation,
                  "icc_profile": len(img.icc_profile) if img.icc_profile else 0}
        if args.json:
            print(json.dumps(record))
        else:
            orient = _ORIENTATION.get(img.exif_orientation, str(img.exif_orientation))
            print(f"{path}: {img.format} {w}x{h} mode={img.mode} {record['channels']} "
                  f"{img.bit_depth}-bit alpha={'yes' if record['alpha'] else 'no'} "
                  f"orientation={img.exif_orientation} ({orient}, applied) "
                  f"icc={'%d bytes' % record['icc_profile'] if record['icc_profile'] else 'none'}")
    return 1 if failed else 0
