"""Training loops of the generative priors: DCGAN ((1) update D, (2) update G) and the VAE (ELBO).

Both run on :mod:`restore.training.engine`: a recipe (``dcgan_*.toml`` / ``vae_*.toml``) with
overrides, DDP under ``torchrun``, bf16 autocast on CUDA, atomic checkpoints (every
``checkpoint_every`` steps, at each epoch end and on SIGINT/SIGTERM) with exact resume (model,
optimisers, RNG, epoch and step), a NaN/inf guard, a tqdm bar and ``OUT/metrics.jsonl``. Each epoch
writes a fixed-noise sample grid (``OUT/samples/epoch_NNN.png``); the end writes a latent
interpolation grid (``OUT/interpolation.png``) and exports ``OUT/NAME.safetensors`` + ``NAME.json``.

Example:
    >>> from restore.training.engine import load_recipe
    >>> from restore.training.generative import train
    >>> summary = train(load_recipe("dcgan_fashion32", {"epochs": 1}), "runs/dcgan")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from .. import archs
from ..data.generative import is_fashion_mnist, load_generative_data
from ..device import autocast, describe_device, precision_name, progress, resolve_device, resolve_precision
from ..errors import RestoreError
from ..io import write_image
from ..losses.generative import gan_discriminator_loss, gan_generator_loss, heldout_elbo, vae_loss
from ..pipelines.sampling import image_grid, interpolate_latents
from ..weight_files import export_model
from .engine import (Checkpointer, Distributed, MetricsLog, RunLock, StopRequest, check_finite,
                     seed_everything, unwrap)

ARCH_KEYS = {"dcgan": ("resolution", "channels", "nz", "g_width", "d_width", "prior"),
             "vae": ("resolution", "channels", "nz", "width")}


def _epoch_order(n: int, seed: int, epoch: int, dist: Distributed) -> torch.Tensor:
    """This rank's share of a shuffle that depends only on (seed, epoch): resume replays it exactly."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[dist.rank::dist.world_size]


def _save_grid(path: Path, images: torch.Tensor, nrow: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, image_grid(images, nrow), overwrite=True)


class _DCGANStep:
    """One DCGAN iteration: (1) update D on real and generated batches, (2) update G (non-saturating)."""

    def __init__(self, model, recipe, dist, dtype=torch.float32):
        self.model, self.dtype = model, dtype
        self.G, self.D = dist.wrap(model.generator), dist.wrap(model.discriminator)
        betas = (recipe["beta1"], recipe["beta2"])
        self.opt = {"generator": torch.optim.Adam(model.generator.parameters(), recipe["lr"], betas=betas),
                    "discriminator": torch.optim.Adam(model.discriminator.parameters(), recipe["lr"], betas=betas)}

    def __call__(self, real01: torch.Tensor, step: int, device) -> dict:
        real = real01 * 2 - 1  # the networks work in [-1, 1]
        z = self.model.sample_latent(real.shape[0], device=device)
        with autocast(device, self.dtype):
            fake = self.G(z)
            # (1) discriminator: real -> 1, generated -> 0 (separate batches, as in the DCGAN paper)
            d_loss = gan_discriminator_loss(self.D(real), self.D(fake.detach()))
        check_finite(step, d_loss=d_loss)
        self.opt["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt["discriminator"].step()
        # (2) generator: make D call the generated batch real
        with autocast(device, self.dtype):
            g_loss = gan_generator_loss(self.D(fake))
        check_finite(step, g_loss=g_loss)
        self.opt["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt["generator"].step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


class _VAEStep:
    def __init__(self, model, recipe, dist, dtype=torch.float32):
        self.model, self.beta, self.dtype = model, recipe["beta"], dtype
        self.net = dist.wrap(model)
        self.opt = {"vae": torch.optim.Adam(model.parameters(), recipe["lr"], betas=(recipe["beta1"], recipe["beta2"]))}

    def __call__(self, x: torch.Tensor, step: int, device) -> dict:
        with autocast(device, self.dtype):
            recon, mu, logvar = self.net(x)
        losses = vae_loss(x, recon, mu, logvar, self.model.log_scale, self.beta)  # fp32 likelihood
        check_finite(step, loss=losses["loss"])
        self.opt["vae"].zero_grad(set_to_none=True)
        losses["loss"].backward()
        self.opt["vae"].step()
        return {k: v.detach() for k, v in losses.items()}


def train(recipe: dict, out: str | Path, *, device: str | torch.device = "auto", resume: bool = False,
          command: str = "", progress_bar: bool = True) -> dict:
    """Train the DCGAN or VAE described by ``recipe`` (``arch`` = ``"dcgan"`` / ``"vae"``) into ``out``.

    ``out`` is locked for the run (a second training on it is refused). Returns a summary (steps,
    epochs, wall time, last losses, exported weights path)."""
    with RunLock(out, enabled=int(os.environ.get("RANK", "0")) == 0):
        Checkpointer(out).remove_stale_temporaries()
        return _train(recipe, out, device=device, resume=resume, command=command, progress_bar=progress_bar)


def _train(recipe: dict, out: str | Path, *, device: str | torch.device = "auto", resume: bool = False,
           command: str = "", progress_bar: bool = True) -> dict:
    arch = recipe.get("arch")
    if arch not in ARCH_KEYS:
        raise RestoreError(f"recipe {recipe.get('recipe')!r}: arch must be dcgan or vae, not {arch!r}")
    out = Path(out)
    if recipe.get("num_threads"):
        torch.set_num_threads(int(recipe["num_threads"]))
    dist = Distributed.from_env(resolve_device(device))
    device = dist.device
    seed = int(recipe["seed"])
    seed_everything(seed, dist.rank)
    config = {k: recipe[k] for k in ARCH_KEYS[arch]}
    data = recipe["data"] or None
    res, ch = recipe["resolution"], recipe["channels"]
    limit = recipe.get("limit") or None
    train_set = load_generative_data(data, resolution=res, channels=ch, split="train",
                                     holdout=recipe["holdout"], limit=limit)
    heldout = load_generative_data(data, resolution=res, channels=ch, split="heldout",
                                   holdout=recipe["holdout"], limit=recipe.get("eval_images") or None)
    model = archs.build(arch, **config).to(device)
    memory_format = torch.channels_last if recipe.get("channels_last", True) else torch.contiguous_format
    model.to(memory_format=memory_format)  # faster convolutions (oneDNN/AMX on CPUs, tensor cores on GPUs)
    dtype = resolve_precision(recipe.get("precision", "auto"), device)
    step_fn = (_DCGANStep if arch == "dcgan" else _VAEStep)(model, recipe, dist, dtype)
    if dist.is_main:
        print(f"restore train: {arch} {recipe['recipe']} on {describe_device(device)} in {precision_name(dtype)}, "
              f"{torch.get_num_threads()} threads", file=sys.stderr)
    batch = int(recipe["batch_size"])
    steps_per_epoch = len(train_set) // dist.world_size // batch
    if steps_per_epoch < 1:
        raise RestoreError(f"{len(train_set)} training images are fewer than one batch of {batch}")
    epochs, max_steps = int(recipe["epochs"]), int(recipe.get("max_steps") or 0)
    total = epochs * steps_per_epoch if not max_steps else min(max_steps, epochs * steps_per_epoch)
    # the same latents every epoch, so the grids show how the samples evolve
    fixed_z = model.sample_latent(recipe["grid_size"], generator=torch.Generator().manual_seed(seed), device=device)

    ckpt, log = Checkpointer(out), MetricsLog(out, enabled=dist.is_main)
    epoch, step_in_epoch, global_step, elapsed = 0, 0, 0, 0.0
    if resume:
        state = ckpt.load(map_location=device)
        if state.get("arch") != arch or state.get("config") != config:
            raise RestoreError(f"{ckpt.last}: checkpoint is a {state.get('arch')} {state.get('config')}, "
                               f"not this recipe's {arch} {config}")
        model.load_state_dict(state["model"])
        for name, opt in step_fn.opt.items():
            opt.load_state_dict(state["optim"][name])
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in state:
            torch.cuda.set_rng_state(state["rng_cuda"])
        epoch, step_in_epoch, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        elapsed = state["elapsed_s"]

    def save_checkpoint():
        state = {"arch": arch, "config": config, "model": unwrap(model).state_dict(),
                 "optim": {k: o.state_dict() for k, o in step_fn.opt.items()},
                 "rng_cpu": torch.get_rng_state(), "epoch": epoch, "step_in_epoch": step_in_epoch,
                 "global_step": global_step, "elapsed_s": elapsed + time.time() - started,
                 "recipe": {k: v for k, v in recipe.items() if not isinstance(v, dict)}}
        if device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(device)
        if dist.is_main:
            ckpt.save(state)

    started = time.time()
    last: dict = {}
    last_elbo: dict = {}  # the held-out ELBO of the final weights, reused by the model card
    bar = progress(total, global_step, desc=f"{arch} {recipe['recipe']}", enabled=dist.is_main and progress_bar)
    stopped = False
    with StopRequest() as stop:
        while epoch < epochs and global_step < total and not stopped:
            order = _epoch_order(len(train_set), seed, epoch, dist)
            model.train()
            while step_in_epoch < steps_per_epoch and global_step < total:
                idx = order[step_in_epoch * batch:(step_in_epoch + 1) * batch]
                x = train_set.batch(idx).to(device, non_blocking=True).contiguous(memory_format=memory_format)
                last = step_fn(x, global_step, device)
                step_in_epoch += 1
                global_step += 1
                bar.update(1)
                if global_step % int(recipe["log_every"]) == 0:
                    values = {k: float(dist.all_reduce_mean(v)) for k, v in last.items()}
                    bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()})
                    log.write(step=global_step, epoch=epoch, **values)
                if global_step % int(recipe["checkpoint_every"]) == 0:
                    save_checkpoint()
                if stop.requested:
                    stopped = True
                    break
            if stopped:
                save_checkpoint()
                break
            # end of an epoch (or of max_steps inside one): grid, held-out figures, checkpoint
            model.eval()
            record = {"epoch_end": epoch, "step": global_step}
            if dist.is_main:
                with torch.no_grad():
                    _save_grid(out / "samples" / f"epoch_{epoch:03d}.png", model.generate(fixed_z))
                if arch == "vae":
                    last_elbo = heldout_elbo(model, heldout, device=device)
                    record.update(last_elbo)
            log.write(**record)
            if dist.is_main and not progress_bar:  # detached runs: one line per epoch in the log
                losses = ", ".join(f"{k} {float(v):.4g}" for k, v in last.items())
                print(f"epoch {epoch + 1}/{epochs} step {global_step}: {losses} "
                      f"({elapsed + time.time() - started:.0f} s)", file=sys.stderr, flush=True)
            if step_in_epoch >= steps_per_epoch:
                epoch, step_in_epoch = epoch + 1, 0
            save_checkpoint()
            dist.barrier()
    bar.close()
    wall = elapsed + time.time() - started
    summary = {"arch": arch, "recipe": recipe["recipe"], "epochs_done": epoch, "steps": global_step,
               "wall_time_s": round(wall, 1), "stopped": stopped,
               "last": {k: float(v) for k, v in last.items()}}
    if stopped:
        dist.close()
        return summary
    model.eval()
    if dist.is_main:
        with torch.no_grad():
            gen = torch.Generator().manual_seed(seed + 1)
            z = model.sample_latent(16, generator=gen, device=device)
            path = interpolate_latents(z[:8], z[8:], 10, spherical=getattr(model, "prior", "gaussian") == "gaussian")
            _save_grid(out / "interpolation.png", model.generate(path.reshape(80, -1)), nrow=10)
        card = {"arch": arch, "config": config, "task": "gan" if arch == "dcgan" else "vae",
                "resolution": [ch, res, res], "recipe": recipe["recipe"],
                "data": "Fashion-MNIST (train 60,000, 28x28 zero-padded to 32x32)" if is_fashion_mnist(data)
                        else f"{data} (all but the last {recipe['holdout']} images, centre crop + resize to {res})",
                "epochs": epoch, "steps": global_step, "batch_size": batch * dist.world_size,
                "wall_time_s": round(wall, 1), "device": describe_device(device), "world_size": dist.world_size,
                "precision": precision_name(dtype),
                "command": command,
                "hyperparameters": {k: v for k, v in recipe.items() if not isinstance(v, dict)}}
        if arch == "vae":
            card["heldout_elbo"] = last_elbo or heldout_elbo(model, heldout, device=device)
            card["likelihood"] = "discretised Gaussian over 256 levels, learned per-channel scale"
        name = recipe.get("export_name") or out.name
        summary["weights"] = str(export_model(out, name, unwrap(model).state_dict(), card,
                                              fp16=bool(recipe["fp16_export"])))
        log.write(done=True, **{k: v for k, v in summary.items() if k != "last"})
    dist.barrier()
    dist.close()
    return summary
