"""Data: the SR degradation (:mod:`restore.data.degradation`) and SR datasets (:mod:`restore.data.sr`).

Submodules are imported on use, so ``import restore.data`` stays light.
"""
