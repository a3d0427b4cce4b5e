"""CPU inference paths for SR, side by side on the same weights and inputs (the CPU fast-path issue).

Paths (each on a 256² input untiled and a 1024² input tiled by 256 with the exact pad, unless told):

* ``eager-fp32``: the network as trained (BatchNorm separate, NCHW), fp32, ``no_grad``;
* ``optimised-fp32``: :class:`restore.pipelines.SuperResolver` with ``precision="fp32"`` (BN folded,
  channels_last, ``inference_mode``);
* ``optimised-bf16``: the same with bf16 autocast (the default on CPUs with bf16 units);
* ``compile-bf16``: the same with ``torch.compile`` (compile time reported apart);
* ``onnxruntime-fp32``: the folded network exported to ONNX (dynamic height/width) and run by ONNX
  Runtime's CPU provider, through the same host-side tiling (only when ``onnxruntime`` is installed).

For each path: seconds, output megapixels per second, speed-up over eager fp32, and agreement with
eager fp32 after 8-bit quantisation (the share of pixels within 1 grey level; the adoption rule is
>= 99.9 %).

Usage:
    python benchmarks/sr_cpu_paths.py                        # shipped srresnet-x4, 256² and 1024² tiled
    python benchmarks/sr_cpu_paths.py --sizes 256 --paths eager-fp32 optimised-bf16

Prints a table and writes ``benchmarks/results/sr_cpu_paths.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

PATHS = ("eager-fp32", "optimised-fp32", "optimised-bf16", "compile-bf16", "onnxruntime-fp32")


def _timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), out


def _onnx_runner(network: torch.nn.Module, threads: int):
    """An ONNX Runtime session for ``network`` (dynamic H, W) as a tile function, or None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = Path(tempfile.mkdtemp()) / "sr.onnx"
    example = torch.rand(1, 3, 32, 32)
    torch.onnx.export(network.float().eval(), (example,), str(path), input_names=["lr"], output_names=["sr"],
                      dynamic_axes={"lr": {2: "h", 3: "w"}, "sr": {2: "H", 3: "W"}}, opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(tile: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"lr": tile.float().contiguous().numpy()})[0])

    return run


def main(argv: list[str] | None = None) -> dict:
    from restore.archs.fusion import fold_batchnorm
    from restore.archs.srresnet import SRResNet
    from restore.device import describe_device
    from restore.pipelines.super_resolution import SuperResolver
    from restore.pipelines.tiling import receptive_radius, tiled_apply
    from restore.registry import list_models, load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="registry name or .safetensors (default: srresnet-x4, else random)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--tile", type=int, default=256, help="inputs larger than this are tiled")
    ap.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sr_cpu_paths.json"))
    args = ap.parse_args(argv)

    device = torch.device("cpu")
    name = args.model or ("srresnet-x4" if any(e.name == "srresnet-x4" for e in list_models("sr")) else None)
    if name:
        model, _ = load_model(name, task="sr")
    else:
        torch.manual_seed(0)
        model, name = SRResNet(scale=4).eval(), "random SRResNet x4 16x64"
    scale = model.scale
    threads = torch.get_num_threads()
    print(f"{describe_device(device)} | torch {torch.__version__} | {threads} threads | model {name}")

    resolvers = {
        "optimised-fp32": SuperResolver(model, device=device, precision="fp32"),
        "optimised-bf16": SuperResolver(model, device=device, precision="bf16"),
    }
    compile_s = None
    if "compile-bf16" in args.paths:
        resolvers["compile-bf16"] = SuperResolver(model, device=device, precision="bf16", compile=True)
    onnx_run = None
    if "onnxruntime-fp32" in args.paths:
        folded = SRResNet(**model.config)
        folded.load_state_dict(model.state_dict())
        onnx_run = _onnx_runner(fold_batchnorm(folded.eval()), threads)
    pad = receptive_radius(model)

    rows = []
    for size in args.sizes:
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(size))
        tile = args.tile if size > args.tile else size
        out_mp = (scale * size) ** 2 / 1e6
        reference = None
        for path in args.paths:
            if path == "eager-fp32":
                def fn():
                    with torch.no_grad():
                        return tiled_apply(lambda t: model(t), x, scale=scale, tile=tile, pad=pad).clamp(0, 1)
            elif path == "onnxruntime-fp32":
                if onnx_run is None:
                    print("  onnxruntime not installed: skipped")
                    continue
                fn = lambda: tiled_apply(onnx_run, x, scale=scale, tile=tile, pad=pad).clamp(0, 1)  # noqa: E731
            else:
                resolver = resolvers[path]
                resolver.tile = tile

                def fn(resolver=resolver):
                    return resolver.upscale(x)[0]
            began = time.perf_counter()
            fn()  # warm-up (and compilation)
            warm_s = time.perf_counter() - began
            if path == "compile-bf16" and compile_s is None:
                compile_s = warm_s
            seconds, out = _timed(fn, args.repeats)
            quantised = (out * 255).round()
            if path == "eager-fp32":
                reference = quantised
            agree = float(((quantised - reference).abs() <= 1).float().mean()) if reference is not None else None
            rows.append({"input": f"{size}x{size}", "tiled": size > args.tile, "path": path, "seconds": seconds,
                         "mp_per_s": out_mp / seconds, "within_1_grey_level": agree, "first_call_s": warm_s})
            print(f"  {size}² {path}: {seconds:.2f} s, {out_mp / seconds:.3f} MP/s"
                  + (f", {100 * agree:.3f}% within 1 grey level of eager fp32" if agree is not None else ""), flush=True)
    print("\n| input | path | s | MP/s | speed-up vs eager fp32 | pixels within 1 grey level |\n|---|---|---|---|---|---|")
    for r in rows:
        base = next(b for b in rows if b["input"] == r["input"] and b["path"] == "eager-fp32")
        r["speedup"] = base["seconds"] / r["seconds"]
        tiled = f"{r['input']} (tiles {args.tile})" if r["tiled"] else r["input"]
        agree = f"{100 * r['within_1_grey_level']:.3f}%" if r["within_1_grey_level"] is not None else "-"
        print(f"| {tiled} | {r['path']} | {r['seconds']:.2f} | {r['mp_per_s']:.3f} | {r['speedup']:.2f}x | {agree} |")
    if compile_s is not None:
        print(f"torch.compile: first call (compilation) {compile_s:.1f} s")
    result = {"device": describe_device(device), "torch": torch.__version__, "threads": threads, "model": name,
              "tile": args.tile, "pad": pad, "repeats": args.repeats, "compile_first_call_s": compile_s, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
