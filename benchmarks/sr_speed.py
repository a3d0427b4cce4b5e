"""Super-resolution speed: output megapixels per second for x4 SRResNet, eager vs optimised, and tiling cost.

For each input size (256^2, 512^2, 1024^2 by default) it times, on the current device:

* **eager**: the plain SRResNet as trained (BatchNorm separate, NCHW, fp32, ``no_grad``), whole image;
* **optimised**: :class:`restore.pipelines.SuperResolver` untiled (BN folded, channels_last,
  ``inference_mode``, bf16/fp16 autocast on CUDA, ``torch.compile`` on CUDA unless ``--no-compile``);
* **tiled**: the optimised path with ``--tile`` (default 256) and the exact context pad, i.e. what
  large images get; ``tiling overhead`` = tiled time / untiled time - 1.

All timings include the host -> device -> host copies a user pays. Weights are random (speed does not
depend on them); the network is the paper's size (16 blocks, 64 channels) unless told otherwise.

Usage:
    python benchmarks/sr_speed.py              # full: 3 sizes, warm-up + 3 repeats (meant for a GPU)
    python benchmarks/sr_speed.py --quick      # CPU-friendly: 256^2 and 512^2, one repeat

Prints a table and writes ``benchmarks/results/sr_speed_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device, repeats: int):
    """``(median seconds of repeats calls of fn, fn's last result)``; ``fn`` is already warmed up."""
    times, result = [], None
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        result = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _peak_mb(device: torch.device, fn) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    _sync(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def main(argv: list[str] | None = None) -> dict:
    from restore.archs.srresnet import SRResNet
    from restore.device import resolve_device
    from restore.pipelines.super_resolution import SuperResolver
    from restore.device import describe_device

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256^2 and 512^2, one repeat (CPU)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="input sizes (square)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--tile", type=int, default=256, help="tile for the tiled path (input pixels)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile on CUDA")
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/sr_speed_<device>.json)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    sizes = args.sizes or ([256, 512] if args.quick else [256, 512, 1024])
    repeats = args.repeats or (1 if args.quick else 3)
    compile_ = device.type == "cuda" and not args.no_compile
    torch.manual_seed(0)
    model = SRResNet(scale=4, num_blocks=args.blocks, channels=args.channels).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    eager_model = model.to(device)
    untiled = SuperResolver(model, device=device, precision=args.precision, tile=max(sizes), compile=compile_)
    # The tiled resolver shares the (compiled) network, so compilation is paid once.
    tiled = untiled.with_tiling(args.tile)

    def eager(x):
        with torch.no_grad():
            return eager_model(x.to(device)).clamp(0, 1).cpu()

    name = describe_device(device)
    print(f"device: {name} | torch {torch.__version__} | precision {untiled.dtype} | compile {compile_} | "
          f"SRResNet x4 {args.blocks}x{args.channels} | tile {args.tile} pad {tiled.tile_pad} | repeats {repeats}")
    rows = []
    for size in sizes:
        x = torch.rand(1, 3, size, size)
        out_mp = (4 * size) ** 2 / 1e6
        warm = x[..., : min(size, 64), : min(size, 64)]
        eager(warm), untiled.upscale(warm), tiled.upscale(warm)  # kernels/allocator warm, compile traced
        if not args.quick:
            eager(x), untiled.upscale(x), tiled.upscale(x)
        t_eager, _ = _time(lambda: eager(x), device, repeats)
        t_opt, (untiled_out, _) = _time(lambda: untiled.upscale(x), device, repeats)
        t_tiled, (tiled_out, _) = _time(lambda: tiled.upscale(x), device, repeats)
        diff = (tiled_out - untiled_out).abs().max().item()
        row = {
            "input": f"{size}x{size}", "output_mp": out_mp,
            "eager_s": t_eager, "optimised_s": t_opt, "tiled_s": t_tiled,
            "eager_mp_per_s": out_mp / t_eager, "optimised_mp_per_s": out_mp / t_opt,
            "tiled_mp_per_s": out_mp / t_tiled, "speedup": t_eager / t_opt,
            "tiling_overhead": t_tiled / t_opt - 1, "tiles": tiled.stats.get("tiles"),
            "tiled_vs_untiled_max_abs": diff,
            "eager_peak_mb": _peak_mb(device, lambda: eager(x)),
            "optimised_peak_mb": _peak_mb(device, lambda: untiled.upscale(x)),
            "tiled_peak_mb": _peak_mb(device, lambda: tiled.upscale(x)),
        }
        rows.append(row)
        print(f"  done {size}x{size}", flush=True)

    header = f"{'input':>10} {'out MP':>7} {'eager MP/s':>11} {'optimised MP/s':>15} {'speedup':>8} " \
             f"{'tiled MP/s':>11} {'tiles':>6} {'tiling overhead':>16} {'max|tiled-untiled|':>19}"
    print(header)
    for r in rows:
        print(f"{r['input']:>10} {r['output_mp']:>7.2f} {r['eager_mp_per_s']:>11.3f} {r['optimised_mp_per_s']:>15.3f} "
              f"{r['speedup']:>7.2f}x {r['tiled_mp_per_s']:>11.3f} {r['tiles']:>6} {r['tiling_overhead']:>15.1%} "
              f"{r['tiled_vs_untiled_max_abs']:>19.2e}")
    if device.type == "cuda":
        for r in rows:
            print(f"  peak GPU MB {r['input']}: eager {r['eager_peak_mb']:.0f}, optimised {r['optimised_peak_mb']:.0f}, "
                  f"tiled {r['tiled_peak_mb']:.0f}")
    result = {"device": name, "device_type": device.type, "torch": torch.__version__,
              "python": platform.python_version(), "precision": str(untiled.dtype), "compile": compile_,
              "model": {"arch": "srresnet", "scale": 4, "num_blocks": args.blocks, "channels": args.channels},
              "tile": args.tile, "tile_pad": tiled.tile_pad, "repeats": repeats, "quick": args.quick, "rows": rows}
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / "results" / f"sr_speed_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
