"""The converter now lives beneath every layer, in :mod:`restore.convert`; this name stays for
``pipelines/super_resolution.py``'s ``from .convert import to_tensor`` (and callers of the old path)."""

from ..convert import Restorer, to_tensor  # noqa: F401

__all__ = ["Restorer", "to_tensor"]
