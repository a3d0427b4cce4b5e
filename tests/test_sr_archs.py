"""SRResNet / SRGAN discriminator: shapes, sizes, BatchNorm folding."""

import pytest
import torch
from torch import nn

from restore.archs import build
from restore.archs.fusion import fold_batchnorm
from restore.archs.srresnet import SRGANDiscriminator, SRResNet


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_output_shape_per_scale(scale):
    g = SRResNet(scale=scale, num_blocks=2, channels=8).eval()
    with torch.no_grad():
        y = g(torch.rand(2, 3, 10, 7))
    assert y.shape == (2, 3, 10 * scale, 7 * scale)
    assert len(g.upsample) == {2: 1, 4: 2, 8: 3}[scale]


def test_srresnet_paper_layout_and_config():
    g = SRResNet()
    assert len(g.blocks) == 16 and g.channels == 64
    assert g.head[0].kernel_size == (9, 9) and g.tail.kernel_size == (9, 9)
    up = g.upsample[0]
    assert up[0].out_channels == 256 and isinstance(up[1], nn.PixelShuffle) and isinstance(up[2], nn.PReLU)
    assert g.config == {"scale": 4, "num_blocks": 16, "channels": 64, "in_channels": 3, "norm": "batch"}
    assert isinstance(build("srresnet", **g.config), SRResNet)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 2 * 16 + 1  # the paper's BN layout
    with pytest.raises(ValueError):
        SRResNet(scale=3)
    with pytest.raises(ValueError):
        SRResNet(norm="group")


def test_srresnet_without_batchnorm_has_the_same_convolutions():
    """norm="none" (BasicSR's MSRResNet choice) drops every BN and nothing else."""
    paper, plain = SRResNet(num_blocks=3, channels=8), SRResNet(num_blocks=3, channels=8, norm="none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    shapes = lambda g: [p.shape for m in g.modules() if isinstance(m, (nn.Conv2d, nn.PReLU))  # noqa: E731
                        for p in m.parameters()]
    assert shapes(paper) == shapes(plain)
    assert plain.config["norm"] == "none" and isinstance(build("srresnet", **plain.config), SRResNet)


@pytest.mark.parametrize("size", [96, 128, 64, 40, 24])
def test_discriminator_accepts_patch_sizes(size):
    d = SRGANDiscriminator(base_channels=8).eval()
    with torch.no_grad():
        logits = d(torch.rand(3, 3, size, size))
    assert logits.shape == (3, 1)
    assert torch.isfinite(logits).all()


def test_discriminator_layout_matches_paper_at_96():
    d = SRGANDiscriminator()
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.features) == 7
    # a 96x96 patch reaches the dense head at exactly 6x6, so the pool is the identity there
    assert d.features(torch.rand(1, 3, 96, 96)).shape[-2:] == (6, 6)
    assert d.head[1].in_features == 512 * 6 * 6 and d.head[1].out_features == 1024


def _randomise_bn(model):
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model.eval()


def _dcgan(part):
    from restore import archs

    return getattr(archs.build("dcgan", resolution=32, channels=3, nz=16, g_width=8, d_width=8), part)


def _vae():
    from restore import archs

    return archs.build("vae", resolution=32, channels=3, nz=16, width=8)


def _call(model, x):
    return model(x)


@pytest.mark.parametrize("make, run, shape, bn_left", [
    (lambda: SRResNet(scale=4, num_blocks=3, channels=16), _call, (2, 3, 32, 32), 0),
    (lambda: SRGANDiscriminator(base_channels=8), _call, (2, 3, 32, 32), 0),
    (lambda: _dcgan("generator"), _call, (2, 16), 0),  # ConvTranspose2d + BatchNorm2d
    (lambda: _dcgan("discriminator"), _call, (2, 3, 32, 32), 0),
    # The VAE decoder's first BatchNorm follows a Linear + Unflatten: it stays; the others fold.
    (_vae, lambda vae, z: vae.decode(z), (2, 16), 1),
])
def test_fold_batchnorm_same_outputs(make, run, shape, bn_left):
    torch.manual_seed(0)
    model = _randomise_bn(make())
    x = torch.rand(*shape)
    with torch.no_grad():
        before = run(model, x)
        folded = fold_batchnorm(model)
        after = run(folded, x)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == bn_left
    assert (before - after).abs().max() < 1e-5
