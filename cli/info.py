"""``restore info IMAGE...``: what restore sees in an image (size, mode, bit depth, alpha, orientation, ICC)."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="describe image files (size, mode, depth, alpha, EXIF orientation)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders or globs")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")
    parser.set_defaults(func=run)


_ORIENTATION = {1: "upright", 2: "mirrored", 3: "rotated 180", 4: "flipped vertically",
                5: "transposed", 6: "rotated 90 CW", 7: "transversed", 8: "rotated 90 CCW"}


def run(args) -> int:
    from restore.errors import RestoreError
    from restore.io import expand_inputs, probe_image

    failed = 0
    paths = expand_inputs(args.images)
    for path in paths:
        try:
            record = {"file": str(path), **probe_image(path)}
        except RestoreError as exc:
            print(f"restore: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps(record))
        else:
            orient = _ORIENTATION.get(record["exif_orientation"], str(record["exif_orientation"]))
            print(f"{path}: {record['format']} {record['width']}x{record['height']} mode={record['mode']} "
                  f"{record['channels']} {record['bit_depth']}-bit alpha={'yes' if record['alpha'] else 'no'} "
                  f"orientation={record['exif_orientation']} ({orient}, applied) "
                  f"icc={'%d bytes' % record['icc_profile'] if record['icc_profile'] else 'none'}")
    # one bad file is a mistake in what was given (2); some bad files in a batch are partial failure (1)
    return (2 if len(paths) == 1 else 1) if failed else 0
