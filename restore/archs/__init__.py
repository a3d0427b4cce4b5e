"""Networks: plain ``nn.Module``s that know nothing of losses, training or files.

``build(arch, **config)`` constructs one by name; modules are imported only when asked for.

| name        | class                                   | what                                   |
|-------------|-----------------------------------------|----------------------------------------|
| srresnet    | restore.archs.srresnet.SRResNet         | SRResNet generator (Ledig et al. 2017) |
| msrresnet   | restore.archs.msrresnet.MSRResNet       | BasicSR's MSRResNet (no BN), its key names |
| (none)      | restore.archs.classical.ClassicalUpscaler | bicubic / Lanczos-3 upscaling, no weights |
| srgan_disc  | restore.archs.srresnet.SRGANDiscriminator | SRGAN discriminator                  |
| dcgan       | restore.archs.dcgan.DCGAN               | DCGAN generator + discriminator        |
| vae         | restore.archs.vae.VAE                   | convolutional VAE (encoder + decoder)  |
"""

from __future__ import annotations

import importlib

from torch import nn

ARCHS = {
    "srresnet": "restore.archs.srresnet:SRResNet",
    "msrresnet": "restore.archs.msrresnet:MSRResNet",
    "srgan_disc": "restore.archs.srresnet:SRGANDiscriminator",
    "dcgan": "restore.archs.dcgan:DCGAN",
    "vae": "restore.archs.vae:VAE",
}


def build(arch: str, **config) -> nn.Module:
    """Construct the network ``arch`` (a key of :data:`ARCHS`) with keyword ``config``."""
    if arch not in ARCHS:
        raise KeyError(f"unknown architecture {arch!r} (known: {', '.join(ARCHS)})")
    module, cls = ARCHS[arch].split(":")
    return getattr(importlib.import_module(module), cls)(**config)
