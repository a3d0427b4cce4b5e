"""Losses. SR losses (pixel MSE, VGG content, adversarial, total variation) live in :mod:`restore.losses.sr`."""

from .sr import AdversarialLoss, VGGContentLoss, lr_consistency_loss, pixel_loss, tv_loss

__all__ = ["pixel_loss", "VGGContentLoss", "AdversarialLoss", "tv_loss", "lr_consistency_loss"]
