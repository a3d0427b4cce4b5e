"""SRResNet and SRGAN training (Ledig et al. 2017) on one device or many (DDP under ``torchrun``).

One function, :func:`train`, runs either kind from a recipe (``restore/training/recipes/*.toml``):

* ``srresnet``: minimise the pixel loss (MSE as the paper, or L1) between ``G(degrade(hr))`` and ``hr``.
* ``srgan``: per step (1) update D on real HR vs ``G(lr)``, (2) update G on VGG content loss
  + 1e-3 non-saturating adversarial loss (+ optional pixel, TV and LR-consistency terms).

Around the step: mixed precision by the project's policy (:func:`restore.device.resolve_precision`: bf16
on CUDA and on CPUs with bf16 units; fp32 master weights, optimiser state and losses), channels_last,
optional ``torch.compile`` and EMA of the generator, step or cosine learning-rate schedules, atomic
checkpoints every ``ckpt_every`` steps and on SIGINT/SIGTERM, ``resume`` continuing the same schedule
(data included: batch ``k`` is a pure function of the seed, see :mod:`restore.data.sr`), a NaN/inf
guard, a tqdm bar, ``OUT/metrics.jsonl``, validation (Y-PSNR/SSIM with border = scale, LPIPS,
bicubic | output | truth strips in ``OUT/val/``) and the export of the generator as
``OUT/NAME.safetensors`` + ``OUT/NAME.json`` model card. Only rank 0 validates, logs and saves.

Example:
    >>> from restore.training.engine import load_recipe
    >>> from restore.training.sr import train
    >>> recipe = load_recipe("srresnet_x4", {"steps": 10, "num_blocks": 2})  # doctest: +SKIP
    >>> train(recipe, data=["data/train"], val="data/val", out="runs/try")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from ..device import autocast, describe_device, progress
from ..errors import RestoreError
from . import engine

#: the generator's pixel loss by recipe name (``pixel_loss = "mse"`` is the paper's SRResNet).
PIXEL_LOSSES = {"mse": torch.nn.functional.mse_loss, "l1": torch.nn.functional.l1_loss}

__all__ = ["train", "validate", "build_generator"]


#: recipe keys that define the networks or the data order: a resumed run must keep them.
_MUST_MATCH_ON_RESUME = ("scale", "num_blocks", "channels", "norm", "disc_channels", "patch_size", "batch_size",
                         "seed", "degradation")


def build_generator(recipe: dict):
    from ..archs.srresnet import SRResNet

    return SRResNet(scale=recipe["scale"], num_blocks=recipe["num_blocks"], channels=recipe["channels"],
                    norm=recipe.get("norm", "batch"))


def _check_recipe(recipe: dict, world_size: int) -> None:
    scale, patch, batch = recipe["scale"], recipe["patch_size"], recipe["batch_size"]
    if scale not in (2, 4, 8):
        raise RestoreError(f"scale must be 2, 4 or 8, got {scale}")
    if patch % scale or patch // scale < 1:
        raise RestoreError(f"patch size {patch} is not a multiple of the scale {scale}")
    if recipe["kind"] == "srgan" and patch < 16:
        raise RestoreError(f"the SRGAN discriminator needs patches of at least 16 pixels, got {patch}")
    if batch % world_size:
        raise RestoreError(f"batch size {batch} does not divide among {world_size} processes")
    if recipe["steps"] < 1:
        raise RestoreError("steps must be at least 1")
    if recipe.get("norm", "batch") not in ("batch", "none"):
        raise RestoreError(f"norm must be batch or none, got {recipe['norm']!r}")
    if recipe.get("pixel_loss", "mse") not in PIXEL_LOSSES:
        raise RestoreError(f"pixel_loss must be {' or '.join(PIXEL_LOSSES)}, got {recipe['pixel_loss']!r}")
    if any(not isinstance(m, (int, float)) or isinstance(m, bool) or m <= 0 for m in recipe.get("lr_milestones", [])):
        raise RestoreError(f"lr_milestones must be positive steps or fractions of the run, got {recipe['lr_milestones']!r}")
    if recipe.get("lr_schedule", "multistep") not in ("multistep", "cosine"):
        raise RestoreError(f"lr_schedule must be multistep or cosine, got {recipe['lr_schedule']!r}")
    from ..data.realistic import BENCHMARK_DEGRADATIONS, FAMILIES, parse_mix

    degradations = ("bicubic", "realistic", *(f for f in FAMILIES if f != "clean"))
    if recipe.get("degradation", "bicubic") not in degradations:
        raise RestoreError(f"degradation must be {', '.join(degradations)}; got {recipe['degradation']!r}")
    try:
        parse_mix(recipe.get("degradation_mix", ""))
    except ValueError as exc:
        raise RestoreError(str(exc)) from None
    if recipe.get("val_degradation", "clean") not in BENCHMARK_DEGRADATIONS:
        raise RestoreError(f"val_degradation must be one of {', '.join(BENCHMARK_DEGRADATIONS)}; "
                           f"got {recipe['val_degradation']!r}")


def _scheduler(opt: torch.optim.Optimizer, recipe: dict):
    if recipe.get("lr_schedule", "multistep") == "cosine":  # one cosine from lr to lr_min over all steps
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe["steps"], eta_min=recipe.get("lr_min", 0.0))
    return torch.optim.lr_scheduler.MultiStepLR(opt, lr_milestones(recipe), recipe["lr_gamma"])


def lr_milestones(recipe: dict) -> list[int]:
    """The multistep milestones in steps: a value below 1 is a fraction of the run (``0.5`` = half of
    ``steps``), so a recipe's phases scale with ``--steps``."""
    return [round(m * recipe["steps"]) if m < 1 else int(m) for m in recipe.get("lr_milestones", [])]


@torch.no_grad()
def validate(generator: torch.nn.Module, pairs, scale: int, device: torch.device, *, out_dir: Path | None = None,
             step: int = 0, strips: int = 4, dtype: torch.dtype = torch.float32) -> dict:
    """Mean Y-PSNR / Y-SSIM (border = scale), LPIPS (alex) and bicubic Y-PSNR over ``pairs``.

    ``pairs`` come from :func:`restore.data.sr.load_validation`. The first ``strips`` images are saved
    as ``out_dir/val/step_XXXXXXX_NAME.png``: bicubic | output | truth side by side.
    """
    from ..data.degradation import imresize
    from ..io import write_image
    from ..metrics import lpips, psnr, ssim

    was_training = generator.training
    generator.eval()
    totals = {"psnr_y": 0.0, "ssim_y": 0.0, "lpips": 0.0, "bicubic_psnr_y": 0.0}
    for i, (name, hr, lr) in enumerate(pairs):
        hr, lr = hr.to(device), lr.to(device)
        with autocast(device, dtype):
            sr = generator(lr)
        sr = sr.float().clamp(0, 1)
        bicubic = imresize(lr, scale).clamp(0, 1)
        totals["psnr_y"] += float(psnr(sr, hr, crop_border=scale, y_channel=True)[0])
        totals["ssim_y"] += float(ssim(sr, hr, crop_border=scale, y_channel=True)[0])
        totals["lpips"] += float(lpips(sr, hr, crop_border=scale)[0])
        totals["bicubic_psnr_y"] += float(psnr(bicubic, hr, crop_border=scale, y_channel=True)[0])
        if out_dir is not None and i < strips:
            strip = torch.cat([bicubic, sr, hr], dim=-1).cpu()
            write_image(Path(out_dir) / "val" / f"step_{step:07d}_{name}.png", strip, overwrite=True)
    generator.train(was_training)
    n = max(len(pairs), 1)
    return {k: round(v / n, 5) for k, v in totals.items()}


def _load_init(generator: torch.nn.Module, path: str, scale: int) -> str:
    """Start ``generator`` from SRResNet weights; returns a one-line account of what was taken.

    Weights of the same scale load whole. Weights of another scale (e.g. x4 to start x2, the warm start
    EDSR uses across scales) give every tensor whose name and shape match: the feature extractor and
    the residual trunk, the upsampling stages both have, and the output convolution; stages the
    target has beyond the source's stay freshly initialised.
    """
    from ..registry import load_model

    model, info = load_model(path, task="sr")
    if info["arch"] != "srresnet":
        raise RestoreError(f"{path}: --init needs SRResNet weights, this is {info['arch']}")
    theirs_config = dict({"norm": "batch"}, **info["config"])
    ours_config = generator.config
    if {k: v for k, v in theirs_config.items() if k != "scale"} != {k: v for k, v in ours_config.items()
                                                                    if k != "scale"}:
        theirs = ", ".join(f"{k}={v}" for k, v in info["config"].items())
        raise RestoreError(f"{path}: --init weights are SRResNet({theirs}); set --num-blocks/--channels/--norm "
                           "to match")
    source_scale = info["config"].get("scale")
    if source_scale == scale:
        generator.load_state_dict(model.state_dict())
        return f"generator from {path} (x{scale}, all tensors)"
    ours, source = generator.state_dict(), model.state_dict()
    taken = {k: v for k, v in source.items() if k in ours and ours[k].shape == v.shape}
    generator.load_state_dict(taken, strict=False)
    return (f"generator from {path} (x{source_scale} weights for x{scale}: {len(taken)} of {len(ours)} tensors "
            f"taken, {len(ours) - len(taken)} fresh)")


def train(recipe: dict, *, data: list[str], out: str | os.PathLike, val: str | None = None,
          device: str | torch.device = "auto", init: str | None = None, resume: bool = False,
          progress_bar: bool = True, command: str | None = None) -> dict:
    """Train SRResNet (``recipe["kind"] == "srresnet"``) or SRGAN (``"srgan"``); returns a summary dict.

    Args:
        recipe: from :func:`restore.training.engine.load_recipe` (see the shipped TOML files).
        data: HR training folders (or files/globs).
        out: run folder: ``checkpoints/``, ``metrics.jsonl``, ``val/`` strips, exported weights.
        val: validation folder (optional; validation every ``val_every`` steps and at the end).
        device: ``auto``, ``cpu``, ``cuda``... (under torchrun each rank takes its local GPU).
        init: SRResNet ``.safetensors`` (with its model card) to start the generator from.
        resume: continue from ``out/checkpoints/last.pt`` (same schedule, same data order).

    Returns:
        ``{"step", "stopped", "weights" (path or None), "val" (last metrics), "patches_per_s"}``.
    """
    from ..archs.srresnet import SRGANDiscriminator
    from ..data.realistic import make_degradation
    from ..data.sr import MemoryResidentImages, find_images, load_validation, loader_batches
    from ..device import precision_name, resolve_device, resolve_precision
    from ..losses.sr import AdversarialLoss, VGGContentLoss, lr_consistency_loss, tv_loss

    kind = recipe["kind"]
    if kind not in ("srresnet", "srgan"):
        raise RestoreError(f"recipe kind must be srresnet or srgan, got {kind!r}")
    dist = engine.Distributed.from_env(resolve_device(device))
    device = dist.device
    try:
        _check_recipe(recipe, dist.world_size)
        out = Path(out)
        ckpt = engine.Checkpointer(out)
        run_lock = engine.RunLock(out, enabled=dist.is_main).__enter__()  # released in `finally`
        ckpt.remove_stale_temporaries()
        if not resume and ckpt.last.is_file():
            raise RestoreError(f"{out} already holds a run (checkpoints/last.pt); pass --resume to continue it "
                               "or choose another --out")
        scale, steps = recipe["scale"], recipe["steps"]
        local_batch = recipe["batch_size"] // dist.world_size
        engine.seed_everything(recipe["seed"], dist.rank)
        if recipe.get("num_threads"):
            torch.set_num_threads(int(recipe["num_threads"]))
        dtype = resolve_precision(recipe.get("precision", "auto"), device)
        pixel_loss = PIXEL_LOSSES[recipe.get("pixel_loss", "mse")]
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        # ---- networks, optimisers, schedules
        generator = build_generator(recipe).to(device)
        init_note = _load_init(generator, init, scale) if init and not resume else None
        opt_g = torch.optim.Adam(generator.parameters(), lr=recipe["lr"], betas=tuple(recipe["betas"]))
        sched_g = _scheduler(opt_g, recipe)
        discriminator = opt_d = sched_d = content = None
        adversarial = AdversarialLoss(recipe.get("adv_weight", 1e-3))
        if kind == "srgan":
            discriminator = SRGANDiscriminator(base_channels=recipe["disc_channels"]).to(device)
            opt_d = torch.optim.Adam(discriminator.parameters(), lr=recipe["lr"], betas=tuple(recipe["betas"]))
            sched_d = _scheduler(opt_d, recipe)
            content = VGGContentLoss(recipe["content_layer"], recipe["content_net"],
                                     recipe["content_scale"]).to(device)
        ema = engine.make_ema(generator, recipe["ema"]) if recipe["ema"] else None

        start, earlier_s, commands = 0, 0.0, [command] if command else []
        if resume:
            state = ckpt.load(map_location=device)
            if state.get("kind") != kind:
                raise RestoreError(f"{ckpt.last}: checkpoint is a {state.get('kind')} run, not {kind}")
            saved = state.get("recipe", {})
            changed = [f"--{k.replace('_', '-')} {saved[k]}" for k in _MUST_MATCH_ON_RESUME
                       if k in saved and saved[k] != recipe.get(k)]
            if changed:
                raise RestoreError(f"{ckpt.last} was trained with other settings; resume with {' '.join(changed)}")
            generator.load_state_dict(state["generator"])
            opt_g.load_state_dict(state["opt_g"])
            sched_g.load_state_dict(state["sched_g"])
            if discriminator is not None:
                discriminator.load_state_dict(state["discriminator"])
                opt_d.load_state_dict(state["opt_d"])
                sched_d.load_state_dict(state["sched_d"])
            if ema is not None and "ema" in state:
                ema.load_state_dict(state["ema"])
            start = int(state["step"])
            earlier_s = float(state.get("elapsed_s", 0.0))  # wall time of the runs before this resume
            init = state.get("init", init)  # the card names the run's start, not the resume
            commands = list(state.get("commands", [])) + commands

        channels_last = recipe["channels_last"]
        if channels_last:  # faster convolutions (tensor cores, oneDNN/AMX on the CPU); same numbers
            generator.to(memory_format=torch.channels_last)
            if discriminator is not None:
                discriminator.to(memory_format=torch.channels_last)
        g_train = dist.wrap(generator)
        d_train = dist.wrap(discriminator) if discriminator is not None else None
        if recipe["compile"]:
            g_train = torch.compile(g_train)
            if d_train is not None:
                d_train = torch.compile(d_train)

        # ---- data
        paths = find_images(data, recipe["patch_size"])
        if recipe["memory_resident"]:
            resident = MemoryResidentImages(paths, recipe["patch_size"], local_batch, device,
                                         seed=recipe["seed"], rank=dist.rank)
            batches = resident.batches(start)
        else:
            batches = loader_batches(paths, recipe["patch_size"], local_batch, seed=recipe["seed"], rank=dist.rank,
                                     start_step=start, num_workers=recipe["num_workers"],
                                     pin_memory=device.type == "cuda")
        val_pairs = []
        if val and dist.is_main:
            val_pairs = load_validation(val, scale, max_images=recipe["val_max_images"] or None,
                                        max_side=recipe["val_max_side"] or None,
                                        degradation=recipe.get("val_degradation", "clean"))
            from ..metrics.perceptual import MIN_SIDE

            small = [name for name, hr, _ in val_pairs if min(hr.shape[-2:]) - 2 * scale < MIN_SIDE["alex"]]
            if small:  # found now, not after hours of training
                raise RestoreError(f"validation image {small[0]} is smaller than {MIN_SIDE['alex'] + 2 * scale} "
                                   f"pixels a side (LPIPS needs {MIN_SIDE['alex']} after the {scale}-pixel border "
                                   f"crop); remove it or raise --val-max-side")

        make_lr = make_degradation(recipe.get("degradation", "bicubic"), scale, recipe["seed"], dist.rank,
                                   mix=recipe.get("degradation_mix", ""))
        degradation_note = (make_lr.describe() if hasattr(make_lr, "describe")
                            else "MATLAB bicubic (restore.data.degradation.degrade)")
        log = engine.MetricsLog(out, enabled=dist.is_main)
        if dist.is_main:
            print(f"restore train: {kind} x{scale} on {describe_device(device)} in {precision_name(dtype)}, "
                  f"{torch.get_num_threads()} threads, {len(paths)} training images, steps {start}..{steps}",
                  file=sys.stderr)
            if init_note:
                print(f"restore train: {init_note}", file=sys.stderr)
            log.write(event="start", kind=kind, step=start, recipe=recipe, world_size=dist.world_size,
                      init=init_note,
                      device=describe_device(device), precision=precision_name(dtype), threads=torch.get_num_threads(),
                      train_images=len(paths))

        def checkpoint(step: int) -> None:
            if not dist.is_main:
                return
            state = {"kind": kind, "step": step, "recipe": recipe, "generator": generator.state_dict(),
                     "elapsed_s": earlier_s + time.perf_counter() - t0, "init": init, "commands": commands,
                     "opt_g": opt_g.state_dict(), "sched_g": sched_g.state_dict()}
            if discriminator is not None:
                state.update(discriminator=discriminator.state_dict(), opt_d=opt_d.state_dict(),
                             sched_d=sched_d.state_dict())
            if ema is not None:
                state["ema"] = ema.state_dict()
            ckpt.save(state)

        def eval_model() -> torch.nn.Module:
            return ema.module if ema is not None else generator

        # ---- the loop
        step, stopped, last_val, t0 = start, False, {}, time.perf_counter()
        last_val_at = last_ckpt_at = t0  # validation and checkpoints also by wall time (*_minutes)
        train_time, timed_steps = 0.0, 0  # pure training steps (not the first, not validation)
        bar = progress(steps, start, desc=kind, enabled=dist.is_main and progress_bar)
        generator.train()
        with engine.StopRequest() as stop:
            while step < steps:
                step_began = time.perf_counter()
                hr = next(batches).to(device, non_blocking=True)
                if channels_last:
                    hr = hr.contiguous(memory_format=torch.channels_last)
                lr_img = make_lr(hr, step)
                losses = {}
                if kind == "srresnet":
                    with autocast(device, dtype):
                        sr = g_train(lr_img)
                    loss_g = pixel_loss(sr.float(), hr)  # losses in fp32
                    losses[recipe.get("pixel_loss", "mse")] = loss_g
                else:
                    # (1) discriminator: real HR, then generated, each its own forward and backward (as
                    # BasicSR; DDP-safe). Its BatchNorm then normalises fakes by fake-only batch statistics,
                    # as in the generator's step below. One forward on both halves let D tell them apart
                    # within a mixed batch while fakes in (2)'s fake-only batch scored ~0.9 "real".
                    opt_d.zero_grad(set_to_none=True)
                    with autocast(device, dtype):
                        sr = g_train(lr_img)
                        real_logits = d_train(hr)
                    loss_d_real = adversarial.discriminator_term(real_logits, real=True)
                    loss_d_real.backward()
                    with autocast(device, dtype):
                        fake_logits = d_train(sr.detach())
                    loss_d_fake = adversarial.discriminator_term(fake_logits, real=False)
                    loss_d_fake.backward()
                    loss_d = loss_d_real.detach() + loss_d_fake.detach()
                    _guard(dist, step, stop, d_loss=loss_d)  # before the step: a NaN never reaches D
                    opt_d.step()
                    # (2) generator: content + adversarial (+ pixel, TV)
                    with autocast(device, dtype):
                        fake_logits = d_train(sr)
                        loss_content = content(sr, hr)
                    loss_content = loss_content.float()
                    loss_adv = adversarial.generator(fake_logits.float())
                    loss_g = loss_content + loss_adv
                    if recipe["pixel_weight"]:
                        loss_g = loss_g + recipe["pixel_weight"] * pixel_loss(sr.float(), hr)
                    if recipe["tv_weight"]:
                        loss_g = loss_g + tv_loss(sr.float(), recipe["tv_weight"])
                    if recipe.get("lr_consistency_weight"):
                        loss_lr = lr_consistency_loss(sr, lr_img, scale)
                        loss_g = loss_g + recipe["lr_consistency_weight"] * loss_lr
                        losses.update(lr_consistency=loss_lr)
                    losses.update(d_loss=loss_d, content=loss_content, adv=loss_adv)
                stop_now = _guard(dist, step, stop, g_loss=loss_g)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                sched_g.step()
                if sched_d is not None:
                    sched_d.step()
                if ema is not None:
                    ema.update_parameters(generator)
                step += 1
                if step > start + 1:  # the first step warms up (allocations, compile): not timed
                    train_time += time.perf_counter() - step_began
                    timed_steps += 1
                bar.update(1)
                if dist.is_main and (step % recipe["log_every"] == 0 or step == steps or step == start + 1):
                    values = {k: round(float(v.detach()), 6) for k, v in losses.items()}
                    rate = timed_steps * recipe["batch_size"] / train_time if timed_steps else 0.0
                    bar.set_postfix(values, refresh=False)
                    log.write(step=step, lr=sched_g.get_last_lr()[0], patches_per_s=round(rate, 2), **values)
                now = time.perf_counter()
                val_due = step % recipe["val_every"] == 0 or (
                    recipe.get("val_minutes") and now - last_val_at >= 60 * recipe["val_minutes"])
                if val_pairs and (val_due or step == steps):
                    last_val_at = now
                    if step == steps:
                        checkpoint(step)  # the finished weights are safe before validation runs
                    last_val = validate(eval_model(), val_pairs, scale, device, out_dir=out, step=step,
                                        strips=recipe["val_strips"], dtype=dtype)
                    log.write(step=step, event="val", **last_val)
                    bar.write(f"step {step}: " + ", ".join(f"{k} {v}" for k, v in last_val.items()))
                if stop_now:
                    stopped = True
                    break
                ckpt_due = step % recipe["ckpt_every"] == 0 or (
                    recipe.get("ckpt_minutes") and now - last_ckpt_at >= 60 * recipe["ckpt_minutes"])
                if ckpt_due and step < steps:
                    last_ckpt_at = now
                    checkpoint(step)
        bar.close()
        elapsed = earlier_s + time.perf_counter() - t0  # across resumes
        rate = timed_steps * recipe["batch_size"] / train_time if timed_steps else None
        checkpoint(step)
        weights = None
        if dist.is_main and stopped:
            log.write(event="stopped", step=step)
            print(f"stopped at step {step}; checkpoint saved to {ckpt.last} (continue with --resume)",
                  file=sys.stderr)
        elif dist.is_main:
            name = f"{kind}_x{scale}"
            card = {"arch": "srresnet", "config": generator.config, "task": "sr", "scale": scale,
                    "name": name, "kind": kind, "recipe": recipe, "data": [str(d) for d in data],
                    "train_images": len(paths), "steps": step, "ema": bool(ema),
                    "device": describe_device(device), "precision": precision_name(dtype),
                    "threads": torch.get_num_threads(), "world_size": dist.world_size,
                    "wall_time_s": round(elapsed, 1), "patches_per_s": rate and round(rate, 2),
                    "validation": dict(last_val, folder=str(val)) if last_val else None,
                    "degradation": degradation_note,
                    "val_degradation": recipe.get("val_degradation", "clean"),
                    "init": init if init else None, "command": commands[0] if commands else None,
                    "resumed_with": commands[1:]}
            if content is not None:
                card["content_loss"] = {"net": content.arch, "layer": content.layer_used, "source": content.source}
            weights = engine.export_model(out, name, eval_model().state_dict(), card)
            log.write(event="export", step=step, weights=str(weights))
        dist.barrier()
        return {"step": step, "stopped": stopped, "weights": weights, "val": last_val, "patches_per_s": rate}
    finally:
        if "run_lock" in locals():
            run_lock.__exit__(None, None, None)
        dist.close()


def _guard(dist: engine.Distributed, step: int, stop: engine.StopRequest, **losses) -> bool:
    """NaN/inf guard agreed by all ranks (so none hangs), and the stop flag shared the same way.

    Returns whether a stop was requested (on any rank)."""
    name, value = next(iter(losses.items()))
    flags = torch.stack([value.detach().float().reshape(()),
                         torch.tensor(float(stop.requested), device=value.device)])
    flags = dist.all_reduce_mean(flags)
    engine.check_finite(step + 1, **{name: flags[0]})
    return bool(flags[1] > 0)
