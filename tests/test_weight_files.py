"""Weights files (restore/weight_files.py): safetensors only, byte-reproducible, checked against sha256."""

from __future__ import annotations

import pytest
import torch

from restore.errors import RestoreError
from restore.weight_files import load_safetensors, save_safetensors, sha256_file


def test_only_safetensors_are_loaded(tmp_path):
    pickle_file = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(1)}, pickle_file)
    with pytest.raises(RestoreError, match="only .safetensors"):
        load_safetensors(pickle_file)
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"not a safetensors file at all")
    with pytest.raises(RestoreError, match="not a valid safetensors"):
        load_safetensors(fake)


def test_save_safetensors_is_byte_reproducible_and_loads(tmp_path):
    # safetensors alone writes metadata keys in hash order: the same export would get a new sha256.
    from safetensors import safe_open

    tensors = {"b.weight": torch.arange(6, dtype=torch.float16).view(2, 3), "a.bias": torch.ones(3)}
    metadata = {str(i): f"value {i}" for i in range(16)}
    digests = {sha256_file(save_safetensors(tmp_path / f"w{i}.safetensors", tensors, metadata)) for i in range(4)}
    assert len(digests) == 1
    path = tmp_path / "w0.safetensors"
    assert int.from_bytes(path.read_bytes()[:8], "little") % 8 == 0  # data stays 8-byte aligned
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == metadata
    loaded = load_safetensors(path)
    assert set(loaded) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(loaded[k], v.float())
