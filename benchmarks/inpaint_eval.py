"""Inpainting evaluation: semantic (GAN, VAE, encoder-initialised) vs classical methods, four mask types.

Data (never copied into the repository):
  * ``faces``: the held-out split of the face data, the last 1,000 images of
    /work/shared/data/faces64/celeba64_train.tar.gz (read from the tar directly), 3x64x64;
    priors faces64-dcgan / faces64-vae.
  * ``fashion``: Fashion-MNIST test images (1x32x32, zero-padded from 28); priors fashion-dcgan / fashion-vae.
  * ``example``: the bundled ``examples/astronaut_face.png`` (3x64x64, cut from scikit-image's astronaut,
    not from CelebA), through the face priors: one image, for a figure that may be committed.

Masks (S = image side): ``centre`` (an S/2 square: 32x32 on 64x64 faces, 16x16 on 32x32 clothes),
``blocks`` (5 random S/4 squares per image, seeded), ``left`` (the left half), ``pixels`` (80% of the
pixels at random, seeded).

Methods: ``gan``, ``vae`` (random starts), ``vae-enc`` (VAE search from the encoder's code),
``gan-vae-init`` (GAN search from the VAE encoder's code; needs equal latent sizes), ``telea``, ``ns``,
``biharmonic``. Methods whose model is missing are skipped, and the output says so.

Metrics: PSNR, SSIM and LPIPS (AlexNet) over the whole image, and inside the hole: PSNR over the hole
pixels, SSIM as the mean of the SSIM map (11x11 Gaussian window, same padding) over the hole pixels,
LPIPS on the hole's bounding box resized to at least 64x64. Plus seconds per image (the whole batch's
wall time / images, including blending) and, for the encoder-initialised searches, the median number
of steps to reach the context loss the random-start search ends with.

Prints a table, writes JSON and a figure grid (rows: images; columns: masked input | methods | truth).

Long runs resume: each finished (mask, method) cell is kept under ``--cells`` (default
``runs/inpaint_cells/<JSON name>/``, outside the repository, since it holds outputs on the data) with the
settings it was made with; a rerun with the same settings reuses those cells and computes only the rest.
A cell made with other settings (steps, restarts, images, priors, ...) is recomputed, never mixed in.

Example:
    python benchmarks/inpaint_eval.py --data fashion --limit 100 --masks centre --steps 100 --restarts 4
    python benchmarks/inpaint_eval.py --data example --figure docs/inpaint-example-face.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from restore.inpainting.methods import CLASSICAL_METHODS

FACES = "/work/shared/data/faces64/celeba64_train.tar.gz"
EXAMPLE_FACE = Path(__file__).resolve().parents[1] / "examples" / "astronaut_face.png"
DATASETS = {
    "faces": dict(path=FACES, resolution=64, channels=3, gan="faces64-dcgan", vae="faces64-vae"),
    "fashion": dict(path="fashion-mnist", resolution=32, channels=1, gan="fashion-dcgan", vae="fashion-vae"),
    "example": dict(path=str(EXAMPLE_FACE), resolution=64, channels=3, gan="faces64-dcgan", vae="faces64-vae"),
}
MASK_TYPES = ("centre", "blocks", "left", "pixels")
METHODS = ("gan", "vae", "vae-enc", "gan-vae-init", *CLASSICAL_METHODS)


def load_eval_data(name: str, limit: int | None):
    """The first ``limit`` held-out images of :data:`DATASETS` ``[name]`` as an ``ImageSet`` (``"example"``:
    the bundled face, one image)."""
    from restore.data.generative import ImageSet, load_generative_data
    from restore.io import read_image

    spec = DATASETS[name]
    if name == "example":
        face = (read_image(spec["path"]).tensor * 255).round().to(torch.uint8)
        return ImageSet(face, "examples/astronaut_face.png (scikit-image's astronaut, not CelebA)")
    return load_generative_data(spec["path"], resolution=spec["resolution"], channels=spec["channels"],
                                split="heldout", limit=limit)


def make_masks(kind: str, n: int, size: int, seed: int = 0) -> torch.Tensor:
    """Known-pixel maps ``(n, 1, size, size)`` (1 = known) for one mask type, reproducible."""
    known = torch.ones(n, 1, size, size)
    gen = torch.Generator().manual_seed(seed)
    if kind == "centre":
        q = size // 4
        known[..., q:size - q, q:size - q] = 0
    elif kind == "left":
        known[..., : size // 2] = 0
    elif kind == "blocks":
        side = size // 4
        for i in range(n):
            for _ in range(5):
                y, x = torch.randint(0, size - side + 1, (2,), generator=gen).tolist()
                known[i, :, y:y + side, x:x + side] = 0
    elif kind == "pixels":
        known = (torch.rand(n, 1, size, size, generator=gen) >= 0.8).float()
    else:
        raise ValueError(f"unknown mask type {kind!r}")
    return known


def hole_metrics(out: torch.Tensor, truth: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image: PSNR / SSIM / LPIPS over the whole image and inside the hole (see the module docstring)."""
    import kornia

    from restore.data.degradation import resize
    from restore.inpainting.masks import hole_box
    from restore.metrics import lpips, psnr, ssim

    hole = 1 - known
    mse_hole = ((out - truth) ** 2 * hole).flatten(1).sum(1) / (hole.flatten(1).sum(1) * out.shape[1])
    smap = kornia.metrics.ssim(out, truth, window_size=11, max_val=1.0, padding="same").mean(1, keepdim=True)
    crops_out, crops_truth = [], []
    for i in range(out.shape[0]):
        top, left, bottom, right = hole_box(known[i])
        side = max(64, bottom - top, right - left)
        crops_out.append(resize(out[i:i + 1, :, top:bottom, left:right], side, "bilinear"))
        crops_truth.append(resize(truth[i:i + 1, :, top:bottom, left:right], side, "bilinear"))
    lp_hole = torch.stack([lpips(a.clamp(0, 1), b)[0] for a, b in zip(crops_out, crops_truth)])
    return {
        "psnr": psnr(out, truth).float(), "ssim": ssim(out, truth).float(), "lpips": lpips(out, truth).float(),
        "psnr_hole": (10 * torch.log10(1 / mse_hole.clamp_min(1e-10))).float(),
        "ssim_hole": ((smap * hole).flatten(1).sum(1) / hole.flatten(1).sum(1)).float(),
        "lpips_hole": lp_hole.float(),
    }


def steps_to_reach(trace: list[torch.Tensor], levels: list[float]) -> list[int]:
    """First step (1-based) at which each image's context loss is <= its level; len(trace) + 1 if never."""
    steps = []
    for t, level in zip(trace, levels):
        hit = torch.nonzero(t <= level + 1e-6).flatten()
        steps.append(int(hit[0]) + 1 if hit.numel() else len(t) + 1)
    return steps


FIGURE_KEEP = 32  # outputs kept per cell for the figure (images 0..31)


def prior_ids(priors: dict[str, str]) -> dict[str, str]:
    """``{task: "name@sha256"}`` of registered priors (a path stays as given): kept results name the weights."""
    from restore.errors import RestoreError
    from restore.registry import get_entry

    ids = {}
    for task, name in priors.items():
        try:
            ids[task] = f"{name}@{get_entry(name).sha256}"
        except (RestoreError, KeyError):
            ids[task] = str(name)
    return ids


def cell_fingerprint(data_source: str, n: int, inp, args, priors: dict[str, str]) -> dict:
    """What a (mask, method) cell's numbers depend on; a cached cell is reused only when this is equal."""
    ids = prior_ids(priors)
    fingerprint = {"data": data_source, "images": n, "method": inp.method, "seed": args.seed}  # seed: the masks
    if inp.method in CLASSICAL_METHODS:
        return fingerprint
    return {**fingerprint, "vae_init": inp.vae_init, "steps": inp.steps, "restarts": inp.restarts,
            "lambda": args.lam, "blend": args.blend, "batch": args.batch, "priors": ids,
            "precision": str(inp.dtype).replace("torch.", ""), "device": inp.device.type}


def load_cell(cells: Path, kind: str, name: str, fingerprint: dict):
    """``(metrics, outputs, traces, record)`` of a finished cell made with ``fingerprint``, else ``None``.

    The JSON alone is enough (it may be committed, the data's outputs never are): without the
    safetensors beside it, ``outputs`` is ``None`` (no figure) and ``traces`` empty.
    """
    from safetensors.torch import load_file

    meta, tensors = cells / f"{kind}-{name}.json", cells / f"{kind}-{name}.safetensors"
    if not meta.is_file():
        return None
    record = json.loads(meta.read_text())
    if record.get("fingerprint") != fingerprint:
        return None
    saved = load_file(str(tensors)) if tensors.is_file() else {}
    traces = list(saved["traces"]) if "traces" in saved else []
    return record["metrics"], saved.get("outputs"), traces, record


def save_cell(cells: Path, kind: str, name: str, fingerprint: dict, metrics: dict, outputs, traces) -> dict:
    """Keep a finished cell: its numbers and each image's final context loss (JSON), and the first
    outputs and the per-image traces (safetensors). Returns the JSON record."""
    from safetensors.torch import save
    from restore.io import atomic_write_bytes

    cells.mkdir(parents=True, exist_ok=True)
    tensors = {"outputs": outputs[:FIGURE_KEEP].contiguous()}
    if traces:
        tensors["traces"] = torch.stack([torch.as_tensor(t, dtype=torch.float32) for t in traces])
    atomic_write_bytes(cells / f"{kind}-{name}.safetensors", save(tensors), overwrite=True)
    finals = [float(t[-1]) for t in traces if len(t)]
    record = {"fingerprint": fingerprint, "metrics": metrics, "final_context": [round(v, 6) for v in finals],
              "steps_to_final": steps_to_reach(traces, finals) if finals else []}
    atomic_write_bytes(cells / f"{kind}-{name}.json", (json.dumps(record, indent=1) + "\n").encode(), overwrite=True)
    return record


def build_inpainters(methods, gan_name, vae_name, settings) -> tuple[dict, dict]:
    from restore.errors import RestoreError
    from restore.pipelines.inpainting import Inpainter
    from restore.pipelines.priors import load_prior

    models, skipped = {}, {}
    for task, name in (("gan", gan_name), ("vae", vae_name)):
        try:
            models[task] = load_prior(name, task)[0]
        except RestoreError as exc:
            skipped[task] = str(exc)
    inpainters = {}
    for m in methods:
        need = {"gan": ["gan"], "vae": ["vae"], "vae-enc": ["vae"], "gan-vae-init": ["gan", "vae"]}.get(m, [])
        missing = [t for t in need if t not in models]
        if missing:
            skipped[m] = f"no {' / '.join(missing)} model ({'; '.join(skipped[t] for t in missing)})"
            continue
        method = {"vae-enc": "vae"}.get(m, m)
        try:
            inpainters[m] = Inpainter(method, models.get("gan"), models.get("vae"),
                                      vae_init="encoder" if m == "vae-enc" else "random", **settings)
        except RestoreError as exc:
            skipped[m] = str(exc)
    return inpainters, skipped


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=tuple(DATASETS), default="fashion")
    p.add_argument("--gan", default=None, help="GAN prior name or .safetensors (default: the dataset's)")
    p.add_argument("--vae", default=None, help="VAE name or .safetensors (default: the dataset's)")
    p.add_argument("--masks", default=",".join(MASK_TYPES), help=f"comma list of {', '.join(MASK_TYPES)}")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    p.add_argument("--limit", type=int, default=1000, help="images (the first N of the held-out split)")
    p.add_argument("--batch", type=int, default=50, help="images searched together (x restarts)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--restarts", type=int, default=None)
    p.add_argument("--lam", type=float, default=0.003)
    p.add_argument("--blend", default="poisson", choices=("poisson", "none"))
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure-rows", type=int, default=6, help="images per mask type in the figure")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/inpaint_<data>.json)")
    p.add_argument("--figure", default=None, help="PNG path (default: beside the JSON)")
    p.add_argument("--markdown", action="store_true", help="also print the table in Markdown (the README's)")
    p.add_argument("--cells", default=None,
                   help="folder of finished cells to resume from (default: runs/inpaint_cells/<JSON name>)")
    args = p.parse_args(argv)

    from restore.io import atomic_write_bytes, write_image
    from restore.device import describe_device

    spec = DATASETS[args.data]
    masks_wanted = [m for m in args.masks.split(",") if m]
    methods = [m for m in args.methods.split(",") if m]
    for m in masks_wanted:
        if m not in MASK_TYPES:
            p.error(f"unknown mask type {m}")
    for m in methods:
        if m not in METHODS:
            p.error(f"unknown method {m}")
    out_json = Path(args.out or f"benchmarks/results/inpaint_{args.data}.json")
    out_png = Path(args.figure or out_json.with_suffix(".png"))
    cells = Path(args.cells or Path("runs/inpaint_cells") / out_json.stem)
    if args.figure_rows > FIGURE_KEEP:
        p.error(f"--figure-rows is at most {FIGURE_KEEP}")
    data = load_eval_data(args.data, args.limit)
    truth_all = data.batch(slice(None))
    n, size = truth_all.shape[0], spec["resolution"]
    settings = dict(device=args.device, steps=args.steps, restarts=args.restarts, lam=args.lam, seed=args.seed,
                    blend=args.blend)
    priors = {"gan": args.gan or spec["gan"], "vae": args.vae or spec["vae"]}
    inpainters, skipped = build_inpainters(methods, priors["gan"], priors["vae"], settings)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", file=sys.stderr)
    if not inpainters:
        print("nothing to evaluate", file=sys.stderr)
        return 1
    budgets = {m: [i.steps, i.restarts] for m, i in inpainters.items() if i.method not in CLASSICAL_METHODS}
    any_semantic = next((inpainters[m] for m in budgets), None)
    device = any_semantic.device if any_semantic else torch.device("cpu")
    print(f"{data.source}: {n} images; device {describe_device(device)}"
          + "".join(f"; {m} {s} steps x {r} restarts" for m, (s, r) in budgets.items()), file=sys.stderr)

    results, reach, figure_rows, missing_outputs = {}, {}, [], set()
    for kind in masks_wanted:
        known_all = make_masks(kind, n, size, seed=args.seed)
        results[kind], traces, outputs, records = {}, {}, {}, {}
        for name, inp in inpainters.items():
            fingerprint = cell_fingerprint(data.source, n, inp, args, priors)
            cached = load_cell(cells, kind, name, fingerprint)
            if cached is not None:
                results[kind][name], outputs[name], traces[name], records[name] = cached
                print(f"  {kind:7s} {name:13s} reused from {cells}", file=sys.stderr)
                continue
            chunks, ctx, seconds = [], [], 0.0
            for start in range(0, n, args.batch):
                y, k = truth_all[start:start + args.batch], known_all[start:start + args.batch]
                t0 = time.perf_counter()
                chunks.append(inp.inpaint(y * k, k))  # the hole's content is hidden from every method
                seconds += time.perf_counter() - t0
                ctx.extend(inp.last_trace.get("context", []))
                if n > args.batch:
                    print(f"  {kind:7s} {name:13s} {start + len(y)}/{n} ({seconds:.0f}s)", file=sys.stderr, flush=True)
            out = torch.cat(chunks)
            outputs[name], traces[name] = out, ctx
            metrics = hole_metrics(out, truth_all, known_all)
            results[kind][name] = {k: float(v.mean()) for k, v in metrics.items()}
            results[kind][name]["seconds_per_image"] = seconds / n
            records[name] = save_cell(cells, kind, name, fingerprint, results[kind][name], out, ctx)
            print(f"  {kind:7s} {name:13s} done in {seconds:.1f}s", file=sys.stderr)
        for enc, base in (("gan-vae-init", "gan"), ("vae-enc", "vae")):
            base_record = records.get(base) or {}
            if not base_record.get("final_context") and traces.get(base):  # a cell kept before JSONs had them
                levels = [float(t[-1]) for t in traces[base]]
                base_record = {"final_context": levels, "steps_to_final": steps_to_reach(traces[base], levels)}
            if traces.get(enc) and base_record.get("final_context"):  # the random start's are in its JSON
                levels, own = base_record["final_context"], base_record["steps_to_final"]
                reach.setdefault(kind, {})[f"{enc} vs {base}"] = {
                    "median_steps_random": float(torch.tensor(own).float().median()),
                    "median_steps_encoder": float(torch.tensor(steps_to_reach(traces[enc], levels)).float().median()),
                    "steps": len(traces[enc][0]),
                }
        if any(outputs[m] is None for m in inpainters):
            missing_outputs.update(m for m in inpainters if outputs[m] is None)
            continue
        rows = min(args.figure_rows, n)
        shown = truth_all[:rows] * known_all[:rows] + 0.5 * (1 - known_all[:rows])  # hole shown grey
        columns = [shown] + [outputs[m][:rows] for m in inpainters] + [truth_all[:rows]]
        figure_rows.append(torch.stack(columns, 1).flatten(0, 1))

    # ---------------------------------------------------------------- report
    header = f"{'mask':8s} {'method':13s} {'PSNR':>6s} {'SSIM':>6s} {'LPIPS':>6s} {'PSNRh':>6s} {'SSIMh':>6s} " \
             f"{'LPIPSh':>6s} {'s/img':>7s}"
    print(header)
    print("-" * len(header))
    for kind, table in results.items():
        for name, r in table.items():
            print(f"{kind:8s} {name:13s} {r['psnr']:6.2f} {r['ssim']:6.3f} {r['lpips']:6.3f} {r['psnr_hole']:6.2f} "
                  f"{r['ssim_hole']:6.3f} {r['lpips_hole']:6.3f} {r['seconds_per_image']:7.3f}")
    if args.markdown:
        print("\n| mask | method | PSNR | SSIM | LPIPS | PSNR hole | SSIM hole | LPIPS hole | s/image |")
        print("|---|---|---|---|---|---|---|---|---|")
        for kind, table in results.items():
            for name, r in table.items():
                print(f"| {kind} | {name} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['lpips']:.3f} | {r['psnr_hole']:.2f} "
                      f"| {r['ssim_hole']:.3f} | {r['lpips_hole']:.3f} | {r['seconds_per_image']:.3f} |")
    for kind, comps in reach.items():
        for label, r in comps.items():
            print(f"{kind}: {label}: median steps to the random start's final context loss: "
                  f"encoder {r['median_steps_encoder']:.0f} vs random {r['median_steps_random']:.0f} "
                  f"(of {r['steps']}; {r['steps'] + 1} = never)")
    record = {
        "data": data.source, "images": n, "resolution": size, "device": describe_device(device),
        "settings": {"steps_restarts": budgets, "lambda": args.lam, "blend": args.blend, "seed": args.seed, "batch": args.batch},
        "models": {m: i.name for m, i in inpainters.items()}, "skipped": skipped,
        "results": results, "steps_to_reach": reach,
        "figure": str(out_png) if args.figure_rows > 0 and not missing_outputs else None,
        "figure_columns": ["masked input"] + list(inpainters) + ["truth"], "figure_row_blocks": masks_wanted,
        "command": " ".join(["python"] + sys.argv),
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_json, (json.dumps(record, indent=2) + "\n").encode(), overwrite=True)
    if args.figure_rows <= 0 or missing_outputs:  # --figure-rows 0: numbers only (sweeps)
        if missing_outputs and args.figure_rows > 0:
            print(f"no figure: the cells of {', '.join(sorted(missing_outputs))} kept numbers only "
                  f"(their outputs are not in {cells})", file=sys.stderr)
        print(f"wrote {out_json}", file=sys.stderr)
        return 0
    from restore.pipelines.sampling import image_grid

    write_image(out_png, image_grid(torch.cat(figure_rows), nrow=len(inpainters) + 2), overwrite=True)
    print(f"wrote {out_json} and {out_png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
