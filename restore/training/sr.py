"""SRResNet and SRGAN training (Ledig et al. 2017) on one device or many (DDP under ``torchrun``).

One function, :func:`train`, runs either kind from a recipe (``restore/training/recipes/*.toml``):

* ``srresnet``: minimise the pixel loss (MSE as the paper, or L1) between ``G(degrade(hr))`` and ``hr``.
* ``srgan``: per step (1) update D on real HR vs ``G(lr)``, (2) update G on VGG content loss
  + 1e-3 non-saturating adversarial loss (+ optional pixel, TV and LR-consistency terms).

As in :mod:`restore.training.generative`, each kind's iteration is a step object (``_SRResNetStep``,
``_SRGANStep``: the networks, optimisers, schedules and EMA, their checkpoint state, one update);
:func:`train` sets up the run and ``_train_loop`` steps it.

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


class _SRResNetStep:
    """One SRResNet iteration: the pixel loss between ``G(lr)`` and ``hr``, then one generator update.

    It holds what a checkpoint saves (the generator, its optimiser and schedule, the EMA of its weights)
    and the networks as trained (``g_train``: DDP-wrapped and compiled when the recipe asks, see
    :meth:`prepare`). ``step_fn(hr, lr, step, stop)`` returns ``(losses to log, stop requested)``.
    """

    kind = "srresnet"

    def __init__(self, recipe: dict, generator: torch.nn.Module, dist: engine.Distributed, dtype: torch.dtype):
        self.recipe, self.generator, self.dist, self.device, self.dtype = recipe, generator, dist, dist.device, dtype
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=recipe["lr"], betas=tuple(recipe["betas"]))
        self.sched_g = _scheduler(self.opt_g, recipe)
        self.pixel_name = recipe.get("pixel_loss", "mse")
        self.pixel_loss = PIXEL_LOSSES[self.pixel_name]
        self.discriminator = self.opt_d = self.sched_d = self.content = None
        self.ema = engine.make_ema(generator, recipe["ema"]) if recipe["ema"] else None
        self.g_train = self.d_train = None

    def state_dict(self) -> dict:
        """The networks', optimisers' and schedules' state for a checkpoint."""
        state = {"generator": self.generator.state_dict(), "opt_g": self.opt_g.state_dict(),
                 "sched_g": self.sched_g.state_dict()}
        if self.discriminator is not None:
            state.update(discriminator=self.discriminator.state_dict(), opt_d=self.opt_d.state_dict(),
                         sched_d=self.sched_d.state_dict())
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.sched_g.load_state_dict(state["sched_g"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.sched_d.load_state_dict(state["sched_d"])
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])

    def prepare(self) -> None:
        """channels_last (faster convolutions: tensor cores, oneDNN/AMX on the CPU; same numbers), then the
        networks as trained: DDP-wrapped, compiled when the recipe asks. After a resume's loading."""
        if self.recipe["channels_last"]:
            self.generator.to(memory_format=torch.channels_last)
            if self.discriminator is not None:
                self.discriminator.to(memory_format=torch.channels_last)
        self.g_train = self.dist.wrap(self.generator)
        self.d_train = self.dist.wrap(self.discriminator) if self.discriminator is not None else None
        if self.recipe["compile"]:
            self.g_train = torch.compile(self.g_train)
            if self.d_train is not None:
                self.d_train = torch.compile(self.d_train)

    def eval_model(self) -> torch.nn.Module:
        """What validation and the export see: the EMA of the generator when kept, else the generator."""
        return self.ema.module if self.ema is not None else self.generator

    def generator_loss(self, hr, lr_img, step: int, stop: engine.StopRequest) -> tuple[torch.Tensor, dict]:
        """``(loss of G, losses to log)``; the SRGAN step updates its discriminator here first."""
        with autocast(self.device, self.dtype):
            sr = self.g_train(lr_img)
        loss_g = self.pixel_loss(sr.float(), hr)  # losses in fp32
        return loss_g, {self.pixel_name: loss_g}

    def __call__(self, hr, lr_img, step: int, stop: engine.StopRequest) -> tuple[dict, bool]:
        loss_g, losses = self.generator_loss(hr, lr_img, step, stop)
        stop_now = _guard(self.dist, step, stop, g_loss=loss_g)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.sched_g.step()
        if self.sched_d is not None:
            self.sched_d.step()
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        return losses, stop_now


class _SRGANStep(_SRResNetStep):
    """One SRGAN iteration: (1) update D on real HR, then on ``G(lr)``; (2) update G on VGG content +
    adversarial loss (+ pixel, TV and LR-consistency terms when weighted)."""

    kind = "srgan"

    def __init__(self, recipe: dict, generator: torch.nn.Module, dist: engine.Distributed, dtype: torch.dtype):
        from ..archs.srresnet import SRGANDiscriminator
        from ..losses.sr import AdversarialLoss, VGGContentLoss

        super().__init__(recipe, generator, dist, dtype)
        self.adversarial = AdversarialLoss(recipe.get("adv_weight", 1e-3))
        self.discriminator = SRGANDiscriminator(base_channels=recipe["disc_channels"]).to(self.device)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=recipe["lr"], betas=tuple(recipe["betas"]))
        self.sched_d = _scheduler(self.opt_d, recipe)
        self.content = VGGContentLoss(recipe["content_layer"], recipe["content_net"],
                                      recipe["content_scale"]).to(self.device)

    def generator_loss(self, hr, lr_img, step: int, stop: engine.StopRequest) -> tuple[torch.Tensor, dict]:
        from ..losses.sr import lr_consistency_loss, tv_loss

        recipe, device, dtype, adversarial = self.recipe, self.device, self.dtype, self.adversarial
        losses = {}
        # (1) discriminator: real HR, then generated, each its own forward and backward (as
        # BasicSR; DDP-safe). Its BatchNorm then normalises fakes by fake-only batch statistics,
        # as in the generator's step below. One forward on both halves let D tell them apart
        # within a mixed batch while fakes in (2)'s fake-only batch scored ~0.9 "real".
        self.opt_d.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            sr = self.g_train(lr_img)
            real_logits = self.d_train(hr)
        loss_d_real = adversarial.discriminator_term(real_logits, real=True)
        loss_d_real.backward()
        with autocast(device, dtype):
            fake_logits = self.d_train(sr.detach())
        loss_d_fake = adversarial.discriminator_term(fake_logits, real=False)
        loss_d_fake.backward()
        loss_d = loss_d_real.detach() + loss_d_fake.detach()
        _guard(self.dist, step, stop, d_loss=loss_d)  # before the step: a NaN never reaches D
        self.opt_d.step()
        # (2) generator: content + adversarial (+ pixel, TV)
        with autocast(device, dtype):
            fake_logits = self.d_train(sr)
            loss_content = self.content(sr, hr)
        loss_content = loss_content.float()
        loss_adv = adversarial.generator(fake_logits.float())
        loss_g = loss_content + loss_adv
        if recipe["pixel_weight"]:
            loss_g = loss_g + recipe["pixel_weight"] * self.pixel_loss(sr.float(), hr)
        if recipe["tv_weight"]:
            loss_g = loss_g + tv_loss(sr.float(), recipe["tv_weight"])
        if recipe.get("lr_consistency_weight"):
            loss_lr = lr_consistency_loss(sr, lr_img, recipe["scale"])
            loss_g = loss_g + recipe["lr_consistency_weight"] * loss_lr
            losses.update(lr_consistency=loss_lr)
        losses.update(d_loss=loss_d, content=loss_content, adv=loss_adv)
        return loss_g, losses


#: The step object of each recipe kind.
STEPS = {"srresnet": _SRResNetStep, "srgan": _SRGANStep}


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
    from ..data.realistic import make_degradation
    from ..device import resolve_device

    kind = recipe["kind"]
    if kind not in STEPS:
        raise RestoreError(f"recipe kind must be srresnet or srgan, got {kind!r}")
    dist = engine.Distributed.from_env(resolve_device(device))
    try:
        _check_recipe(recipe, dist.world_size)
        run = _Run(recipe, dist, Path(out), init, [command] if command else [])
        run_lock = engine.RunLock(run.out, enabled=dist.is_main).__enter__()  # released in `finally`
        run.ckpt.remove_stale_temporaries()
        if not resume and run.ckpt.last.is_file():
            raise RestoreError(f"{out} already holds a run (checkpoints/last.pt); pass --resume to continue it "
                               "or choose another --out")
        dtype = _setup(recipe, dist.device, dist.rank)
        generator = build_generator(recipe).to(dist.device)
        init_note = _load_init(generator, init, recipe["scale"]) if init and not resume else None
        run.step_fn = STEPS[kind](recipe, generator, dist, dtype)
        start = run.resume() if resume else 0
        run.step_fn.prepare()
        paths, batches = _training_batches(recipe, data, dist, start)
        val_pairs = _validation_pairs(recipe, val) if val and dist.is_main else []
        make_lr = make_degradation(recipe.get("degradation", "bicubic"), recipe["scale"], recipe["seed"], dist.rank,
                                   mix=recipe.get("degradation_mix", ""))
        run.announce(start, len(paths), init_note)
        step, stopped, last_val, rate = _train_loop(run, batches, make_lr, val_pairs, start, progress_bar)
        elapsed = run.elapsed()  # across resumes
        run.checkpoint(step)
        weights = None
        if dist.is_main and stopped:
            run.log.write(event="stopped", step=step)
            print(f"stopped at step {step}; checkpoint saved to {run.ckpt.last} (continue with --resume)",
                  file=sys.stderr)
        elif dist.is_main:
            card = run.model_card(step, data, len(paths), elapsed, rate, last_val, val, make_lr)
            weights = engine.export_model(run.out, card["name"], run.step_fn.eval_model().state_dict(), card)
            run.log.write(event="export", step=step, weights=str(weights))
        dist.barrier()
        return {"step": step, "stopped": stopped, "weights": weights, "val": last_val, "patches_per_s": rate}
    finally:
        if "run_lock" in locals():
            run_lock.__exit__(None, None, None)
        dist.close()


def _setup(recipe: dict, device: torch.device, rank: int) -> torch.dtype:
    """Seeds, CPU threads and CUDA's fast paths for a run; returns its compute precision."""
    from ..device import resolve_precision

    engine.seed_everything(recipe["seed"], rank)
    if recipe.get("num_threads"):
        torch.set_num_threads(int(recipe["num_threads"]))
    dtype = resolve_precision(recipe.get("precision", "auto"), device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return dtype


def _training_batches(recipe: dict, data: list[str], dist: engine.Distributed, start: int):
    """``(training image paths, iterator of this rank's HR batches from step start)``."""
    from ..data.sr import MemoryResidentImages, find_images, loader_batches

    paths = find_images(data, recipe["patch_size"])
    local_batch = recipe["batch_size"] // dist.world_size
    if recipe["memory_resident"]:
        resident = MemoryResidentImages(paths, recipe["patch_size"], local_batch, dist.device,
                                        seed=recipe["seed"], rank=dist.rank)
        return paths, resident.batches(start)
    return paths, loader_batches(paths, recipe["patch_size"], local_batch, seed=recipe["seed"], rank=dist.rank,
                                 start_step=start, num_workers=recipe["num_workers"],
                                 pin_memory=dist.device.type == "cuda")


def _validation_pairs(recipe: dict, val: str) -> list:
    """The validation ``(name, hr, lr)`` pairs; images too small for LPIPS are refused now, not after hours."""
    from ..data.sr import load_validation
    from ..metrics.perceptual import MIN_SIDE

    scale = recipe["scale"]
    pairs = load_validation(val, scale, max_images=recipe["val_max_images"] or None,
                            max_side=recipe["val_max_side"] or None,
                            degradation=recipe.get("val_degradation", "clean"))
    small = [name for name, hr, _ in pairs if min(hr.shape[-2:]) - 2 * scale < MIN_SIDE["alex"]]
    if small:
        raise RestoreError(f"validation image {small[0]} is smaller than {MIN_SIDE['alex'] + 2 * scale} "
                           f"pixels a side (LPIPS needs {MIN_SIDE['alex']} after the {scale}-pixel border "
                           f"crop); remove it or raise --val-max-side")
    return pairs


class _Run:
    """One training run's folder, log, step object and bookkeeping (wall time across resumes, commands)."""

    def __init__(self, recipe: dict, dist: engine.Distributed, out: Path, init: str | None, commands: list):
        self.recipe, self.dist, self.out, self.init, self.commands = recipe, dist, out, init, commands
        self.kind = recipe["kind"]
        self.ckpt = engine.Checkpointer(out)
        self.log = engine.MetricsLog(out, enabled=dist.is_main)
        self.step_fn: _SRResNetStep | None = None
        self.earlier_s = 0.0  # wall time of the runs before this resume
        self.t0 = time.perf_counter()  # reset when the loop starts

    def resume(self) -> int:
        """Load ``checkpoints/last.pt`` into the step object; returns its step. Refuses another kind or
        other network / data-order settings (saying which flags would match)."""
        state = self.ckpt.load(map_location=self.dist.device)
        if state.get("kind") != self.kind:
            raise RestoreError(f"{self.ckpt.last}: checkpoint is a {state.get('kind')} run, not {self.kind}")
        saved = state.get("recipe", {})
        changed = [f"--{k.replace('_', '-')} {saved[k]}" for k in _MUST_MATCH_ON_RESUME
                   if k in saved and saved[k] != self.recipe.get(k)]
        if changed:
            raise RestoreError(f"{self.ckpt.last} was trained with other settings; resume with {' '.join(changed)}")
        self.step_fn.load_state_dict(state)
        self.earlier_s = float(state.get("elapsed_s", 0.0))
        self.init = state.get("init", self.init)  # the card names the run's start, not the resume
        self.commands = list(state.get("commands", [])) + self.commands
        return int(state["step"])

    def announce(self, start: int, train_images: int, init_note: str | None) -> None:
        """The run's first stderr line(s) and its ``start`` record (rank 0)."""
        from ..device import precision_name

        if not self.dist.is_main:
            return
        device, dtype = self.dist.device, self.step_fn.dtype
        print(f"restore train: {self.kind} x{self.recipe['scale']} on {describe_device(device)} in "
              f"{precision_name(dtype)}, {torch.get_num_threads()} threads, {train_images} training images, "
              f"steps {start}..{self.recipe['steps']}", file=sys.stderr)
        if init_note:
            print(f"restore train: {init_note}", file=sys.stderr)
        self.log.write(event="start", kind=self.kind, step=start, recipe=self.recipe,
                       world_size=self.dist.world_size, init=init_note, device=describe_device(device),
                       precision=precision_name(dtype), threads=torch.get_num_threads(), train_images=train_images)

    def elapsed(self) -> float:
        return self.earlier_s + time.perf_counter() - self.t0

    def checkpoint(self, step: int) -> None:
        if self.dist.is_main:
            self.ckpt.save({"kind": self.kind, "step": step, "recipe": self.recipe, "elapsed_s": self.elapsed(),
                            "init": self.init, "commands": self.commands, **self.step_fn.state_dict()})

    def model_card(self, step: int, data: list[str], train_images: int, elapsed: float, rate: float | None,
                   last_val: dict, val: str | None, make_lr) -> dict:
        from ..device import precision_name

        recipe, step_fn, device = self.recipe, self.step_fn, self.dist.device
        scale = recipe["scale"]
        card = {"arch": "srresnet", "config": step_fn.generator.config, "task": "sr", "scale": scale,
                "name": f"{self.kind}_x{scale}", "kind": self.kind, "recipe": recipe, "data": [str(d) for d in data],
                "train_images": train_images, "steps": step, "ema": bool(step_fn.ema),
                "device": describe_device(device), "precision": precision_name(step_fn.dtype),
                "threads": torch.get_num_threads(), "world_size": self.dist.world_size,
                "wall_time_s": round(elapsed, 1), "patches_per_s": rate and round(rate, 2),
                "validation": dict(last_val, folder=str(val)) if last_val else None,
                "degradation": (make_lr.describe() if hasattr(make_lr, "describe")
                                else "MATLAB bicubic (restore.data.degradation.degrade)"),
                "val_degradation": recipe.get("val_degradation", "clean"),
                "init": self.init if self.init else None, "command": self.commands[0] if self.commands else None,
                "resumed_with": self.commands[1:]}
        if step_fn.content is not None:
            content = step_fn.content
            card["content_loss"] = {"net": content.arch, "layer": content.layer_used, "source": content.source}
        return card


def _train_loop(run: _Run, batches, make_lr, val_pairs: list, start: int, progress_bar: bool):
    """Steps ``start..steps`` with logging, validation and checkpoints by step count and wall time; stops early
    on SIGINT/SIGTERM (any rank). Returns ``(step, stopped, last validation, HR patches/s or None)``."""
    recipe, dist, step_fn, log = run.recipe, run.dist, run.step_fn, run.log
    steps, device = recipe["steps"], dist.device
    step, stopped, last_val = start, False, {}
    run.t0 = time.perf_counter()
    last_val_at = last_ckpt_at = run.t0  # validation and checkpoints also by wall time (*_minutes)
    train_time, timed_steps = 0.0, 0  # pure training steps (not the first, not validation)
    bar = progress(steps, start, desc=run.kind, enabled=dist.is_main and progress_bar)
    step_fn.generator.train()
    with engine.StopRequest() as stop:
        while step < steps:
            step_began = time.perf_counter()
            hr = next(batches).to(device, non_blocking=True)
            if recipe["channels_last"]:
                hr = hr.contiguous(memory_format=torch.channels_last)
            losses, stop_now = step_fn(hr, make_lr(hr, step), step, stop)
            step += 1
            if step > start + 1:  # the first step warms up (allocations, compile): not timed
                train_time += time.perf_counter() - step_began
                timed_steps += 1
            bar.update(1)
            if dist.is_main and (step % recipe["log_every"] == 0 or step == steps or step == start + 1):
                values = {k: round(float(v.detach()), 6) for k, v in losses.items()}
                rate = timed_steps * recipe["batch_size"] / train_time if timed_steps else 0.0
                bar.set_postfix(values, refresh=False)
                log.write(step=step, lr=step_fn.sched_g.get_last_lr()[0], patches_per_s=round(rate, 2), **values)
            now = time.perf_counter()
            val_due = step % recipe["val_every"] == 0 or (
                recipe.get("val_minutes") and now - last_val_at >= 60 * recipe["val_minutes"])
            if val_pairs and (val_due or step == steps):
                last_val_at = now
                if step == steps:
                    run.checkpoint(step)  # the finished weights are safe before validation runs
                last_val = validate(step_fn.eval_model(), val_pairs, recipe["scale"], device, out_dir=run.out,
                                    step=step, strips=recipe["val_strips"], dtype=step_fn.dtype)
                log.write(step=step, event="val", **last_val)
                bar.write(f"step {step}: " + ", ".join(f"{k} {v}" for k, v in last_val.items()))
            if stop_now:
                stopped = True
                break
            ckpt_due = step % recipe["ckpt_every"] == 0 or (
                recipe.get("ckpt_minutes") and now - last_ckpt_at >= 60 * recipe["ckpt_minutes"])
            if ckpt_due and step < steps:
                last_ckpt_at = now
                run.checkpoint(step)
    bar.close()
    rate = timed_steps * recipe["batch_size"] / train_time if timed_steps else None
    return step, stopped, last_val, rate


def _guard(dist: engine.Distributed, step: int, stop: engine.StopRequest, **losses) -> bool:
    """NaN/inf guard agreed by all ranks (so none hangs), and the stop flag shared the same way.

    Returns whether a stop was requested (on any rank)."""
    name, value = next(iter(losses.items()))
    flags = torch.stack([value.detach().float().reshape(()),
                         torch.tensor(float(stop.requested), device=value.device)])
    flags = dist.all_reduce_mean(flags)
    engine.check_finite(step + 1, **{name: flags[0]})
    return bool(flags[1] > 0)
