"""Property tests of what users feed restore (issue 27): images, masks, model cards, options, HTTP requests.

The invariant everywhere: a valid result or a :class:`restore.errors.RestoreError` (one line for the user,
exit 2, HTTP 4xx), never another exception, never an ``internal error``; inputs keep their bytes; no stray
files. Everything runs in-process on tiny inputs with a bounded, derandomized budget (CI reproducible); the
large budget is ``benchmarks/fuzz.py``, which draws from the generators defined here.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from PIL import Image

from restore.errors import RestoreError

#: CI budget per property (the benchmark scales it up with HYPOTHESIS profile "fuzz-large").
BUDGET = int(os.environ.get("RESTORE_FUZZ_EXAMPLES", "0")) or None


def budget(n: int):
    return settings(max_examples=BUDGET or n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


#: how many cases ended in each class (``"read_image: image"``, ``"cli sr: exit 2"``...), for benchmarks/fuzz.py
COUNTS: collections.Counter = collections.Counter()


def note(label: str) -> None:
    """Count a case's class (and show it in Hypothesis' statistics when called inside a test)."""
    COUNTS[label] += 1
    try:
        event(label)
    except InvalidArgument:  # outside a Hypothesis test (a plain regression test)
        pass


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ============================================================================= generators (shared with the benchmark)
FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "CMYK")
#: modes each encoder writes as such (others are converted to the closest it does)
WRITABLE = {"PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}, "JPEG": {"L", "RGB", "CMYK"},
            "WEBP": {"RGB", "RGBA"}, "TIFF": {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"},
            "BMP": {"1", "L", "P", "RGB"}, "GIF": {"L", "P"}}
EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp", "GIF": ".gif"}


def make_pil(mode: str, width: int, height: int, seed: int, pattern: str = "noise") -> Image.Image:
    """A ``mode`` image of ``width`` x ``height`` with random (or flat / extreme) pixels."""
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        arr = rng.integers(0, 65536, (height, width), dtype=np.uint16) if pattern == "noise" else \
            np.full((height, width), 65535 if pattern == "max" else 0, np.uint16)
        return Image.frombytes("I;16", (width, height), arr.astype("<u2").tobytes())
    bands = len(Image.new(mode, (1, 1)).getbands())
    if pattern == "noise":
        arr = rng.integers(0, 256, (height, width, bands), dtype=np.uint8)
    else:
        arr = np.full((height, width, bands), 255 if pattern == "max" else 0, np.uint8)
    if mode == "1":
        return Image.fromarray(arr[..., 0] > 127)
    if mode in ("P", "PA"):
        img = Image.frombytes("P", (width, height), np.ascontiguousarray(arr[..., 0]).tobytes())
        img.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        if mode == "PA":
            img = img.convert("PA")
            img.putalpha(Image.frombytes("L", (width, height), np.ascontiguousarray(arr[..., -1]).tobytes()))
        return img
    return Image.frombytes(mode, (width, height), arr.tobytes())


def encode(img: Image.Image, fmt: str, orientation: int = 1, seed: int = 0) -> bytes:
    """``img`` as ``fmt`` bytes (converted when the encoder cannot write its mode), with an EXIF orientation."""
    if img.mode not in WRITABLE[fmt]:
        img = img.convert({"WEBP": "RGBA" if "A" in img.mode else "RGB", "GIF": "P", "JPEG": "RGB",
                           "BMP": "RGB"}.get(fmt, "RGBA" if "A" in img.mode else "RGB"))
    kwargs: dict = {}
    if orientation != 1 and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    if fmt == "JPEG":
        kwargs["quality"] = 50 + seed % 50
    if fmt == "PNG" and img.mode == "P" and seed % 3 == 0:
        kwargs["transparency"] = seed % 256
    if fmt == "TIFF" and seed % 2:
        kwargs["compression"] = "tiff_deflate"
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@st.composite
def valid_images(draw, max_side: int = 24):
    """``(bytes, format)`` of a valid image of a random small size, mode, format, pattern and orientation."""
    fmt = draw(st.sampled_from(FORMATS))
    mode = draw(st.sampled_from(MODES))
    width, height = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**16))
    pattern = draw(st.sampled_from(("noise", "noise", "zero", "max")))
    orientation = draw(st.integers(1, 8))
    return encode(make_pil(mode, width, height, seed, pattern), fmt, orientation, seed), fmt


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk after the signature (length, type, data, CRC)."""
    spans, at = [], 8
    while at + 12 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        end = at + 12 + length
        if end > len(data):
            break
        spans.append((at, end))
        at = end
    return spans


#: where each format keeps its width / height (offset, size in bytes, byte order)
SIZE_FIELDS = {"PNG": [(16, 4, "big"), (20, 4, "big")], "BMP": [(18, 4, "little"), (22, 4, "little")],
               "GIF": [(6, 2, "little"), (8, 2, "little")], "WEBP": [(26, 2, "little"), (28, 2, "little")]}


def mutate(data: bytes, fmt: str, ops: list[tuple[str, int, int]]) -> bytes:
    """Apply ``ops`` (kind, a, b) to ``data``: bit flips, truncation, chunk/region swaps, header lies about size."""
    buf = bytearray(data)
    for kind, a, b in ops:
        if not buf:
            break
        if kind == "flip":
            buf[a % len(buf)] ^= 1 << (b % 8)
        elif kind == "byte":
            buf[a % len(buf)] = b % 256
        elif kind == "truncate":
            del buf[max(1, a % (len(buf) + 1)):]
        elif kind == "swap":
            chunks = _png_chunks(bytes(buf)) if fmt == "PNG" else []
            if len(chunks) >= 2:
                i, j = sorted((a % len(chunks), b % len(chunks)))
                if i != j:
                    (s1, e1), (s2, e2) = chunks[i], chunks[j]
                    buf = buf[:s1] + buf[s2:e2] + buf[e1:s2] + buf[s1:e1] + buf[e2:]
            else:  # any two regions of 8..64 bytes
                n = 8 + b % 57
                i, j = sorted((a % len(buf), (a * 7 + b) % len(buf)))
                if j - i >= n and j + n <= len(buf):
                    buf[i:i + n], buf[j:j + n] = buf[j:j + n], buf[i:i + n]
        elif kind == "lie":  # a header that declares another width / height
            fields = SIZE_FIELDS.get(fmt)
            if fields:
                offset, size, order = fields[a % len(fields)]
                if offset + size <= len(buf):
                    value = (b if a % 3 else b * 65537) % (1 << (8 * size))
                    buf[offset:offset + size] = value.to_bytes(size, order)
            else:
                at = a % min(len(buf), 64)
                buf[at:at + 2] = (b % 65536).to_bytes(2, "big")
        elif kind == "insert":
            at = a % (len(buf) + 1)
            buf[at:at] = bytes([b % 256]) * (1 + b % 16)
        elif kind == "delete":
            at = a % len(buf)
            del buf[at:at + 1 + b % 16]
    return bytes(buf)


MUTATIONS = st.lists(st.tuples(st.sampled_from(("flip", "byte", "truncate", "swap", "lie", "insert", "delete")),
                               st.integers(0, 2**20), st.integers(0, 2**20)), min_size=1, max_size=4)


@st.composite
def mutated_images(draw):
    data, fmt = draw(valid_images(max_side=16))
    return mutate(data, fmt, draw(MUTATIONS)), fmt


# ============================================================================= restore.io.read_image
@pytest.fixture(scope="module")
def work():
    folder = Path(tempfile.mkdtemp(prefix="restore-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


#: decoding tiny images: a small pixel limit keeps a header that lies about its size cheap (the limit must
#: hold before decoding, which is part of what is tested)
FUZZ_MAX_PIXELS = 1 << 20


def check_read(path: Path):
    """read_image's contract on one file; the LoadedImage or the RestoreError."""
    from restore.io import read_image

    before = digest(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            img = read_image(path, max_pixels=FUZZ_MAX_PIXELS)
        assert not caught, f"a warning escaped (a second line on stderr): {caught[0].message}"
    except RestoreError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)
        result = exc
        note("read_image: RestoreError")
    else:
        note("read_image: image")
        t = img.tensor
        assert t.dim() == 4 and t.shape[0] == 1 and t.shape[1] in (1, 3) and t.shape[2] >= 1 and t.shape[3] >= 1
        assert t.shape[2] * t.shape[3] <= FUZZ_MAX_PIXELS
        assert not t.isnan().any() and float(t.min()) >= 0 and float(t.max()) <= 1
        if img.alpha is not None:
            a = img.alpha
            assert a.shape == (1, 1, *t.shape[-2:]) and not a.isnan().any()
            assert float(a.min()) >= 0 and float(a.max()) <= 1
        assert img.bit_depth in (8, 16)
        result = img
    assert digest(path) == before, "reading changed the input"
    return result


@budget(300)
@given(data=st.binary(min_size=0, max_size=512), ext=st.sampled_from(list(EXT.values()) + [".bin", ""]))
@example(data=b"\x89PNG\r\n\x1a\n", ext=".png")
@example(data=b"GIF89a", ext=".gif")
def test_read_image_random_bytes(work, data, ext):
    path = work / f"random{ext}"
    path.write_bytes(data)
    check_read(path)


#: found by this file: a TIFF whose second IFD has no width (Pillow's n_frames raised TypeError, an internal
#: error) and whose EXIF is short (Pillow warned on stderr: a second line)
TIFF_BROKEN_IFD = (b"II*\x00\x08\x00\x00\x00\x08\x00\x00\x01\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x01\x04\x00"
                   b"\x01\x00\x00\x00\x01\x00\x00\x00\x03\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x06\x01\x03\x00"
                   b"\x01\x00\x00\x00\x01\x00\x00\x00\x11\x01\x04\x00\x01\x00\x00\x00\x03\x03\x03\x03n\x00\x00\x00\x16"
                   b"\x01\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00\x17\x01\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00\x1c"
                   b"\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")


@budget(600)
@given(case=mutated_images())
@example(case=(TIFF_BROKEN_IFD, "TIFF"))
def test_read_image_mutated_files(work, case):
    data, fmt = case
    path = work / f"mutated{EXT[fmt]}"
    path.write_bytes(data)
    check_read(path)


@budget(300)
@given(case=valid_images())
def test_read_image_valid_files(work, case):
    data, fmt = case
    path = work / f"valid{EXT[fmt]}"
    path.write_bytes(data)
    result = check_read(path)
    assert not isinstance(result, RestoreError) or "frames" in str(result), f"a valid {fmt} was refused: {result}"


# ============================================================================= masks
MASK_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


@st.composite
def mask_cases(draw):
    mode = draw(st.sampled_from(MASK_MODES))
    mw, mh = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(("noise", "zero", "max", "box", "values")))
    if kind in ("zero", "max"):
        img = make_pil(mode, mw, mh, seed, kind)
    elif kind == "box":
        arr = np.zeros((mh, mw), np.uint8)
        arr[mh // 4:mh // 4 + max(1, mh // 2), mw // 4:mw // 4 + max(1, mw // 2)] = 255
        img = Image.fromarray(arr).convert(mode if mode != "I;16" else "L")
    elif kind == "values":  # every pixel one of a few values around the threshold
        value = draw(st.sampled_from((0, 1, 126, 127, 128, 129, 254, 255)))
        arr = np.where(rng.random((mh, mw)) > 0.5, value, 255 - value).astype(np.uint8)
        img = Image.fromarray(arr).convert(mode if mode != "I;16" else "L")
    else:
        img = make_pil(mode, mw, mh, seed)
    fmt = draw(st.sampled_from(("PNG", "PNG", "TIFF", "BMP", "WEBP", "JPEG")))
    data = encode(img, fmt, draw(st.integers(1, 8)), seed)
    if draw(st.integers(0, 4)) == 0:
        data = mutate(data, fmt, draw(MUTATIONS))
    size = draw(st.one_of(st.just((mh, mw)), st.tuples(st.integers(1, 40), st.integers(1, 40)),
                          st.integers(1, 4).map(lambda k: (mh * k, mw * k))))
    return data, fmt, size, draw(st.booleans())


@budget(300)
@given(case=mask_cases())
def test_masks_of_any_size_mode_and_values(work, case):
    from restore.inpainting.masks import load_mask, match_masks

    data, fmt, size, invert = case
    path = work / f"mask{EXT[fmt]}"
    path.write_bytes(data)
    before = digest(path)
    image = work / "image.png"
    assert match_masks([image], path) == {image: path}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            known = load_mask(path, size, invert=invert)
    except RestoreError as exc:
        note("mask file: RestoreError")
        assert "\n" not in str(exc)
    else:
        note("mask file: mask")
        assert known.shape == (1, 1, *size)
        assert set(known.unique().tolist()) <= {0.0, 1.0} and 0 < float(known.sum()) < known.numel()
    assert digest(path) == before


@budget(300)
@given(h=st.integers(1, 12), w=st.integers(1, 12), dtype=st.sampled_from(("uint8", "uint16", "float32", "bool",
                                                                          "int64", "float64")),
       channels=st.sampled_from((0, 1, 3, 4)), seed=st.integers(0, 2**16),
       special=st.sampled_from((None, "nan", "inf", "-inf", "neg", "big")),
       size=st.tuples(st.integers(1, 24), st.integers(1, 24)))
def test_mask_arrays(h, w, dtype, channels, seed, special, size):
    """The API takes arrays too: odd dtypes and values are a mask or a RestoreError."""
    from restore.inpainting.masks import mask_to_known

    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 0 else (h, w, channels)
    arr = rng.random(shape)
    if dtype == "bool":
        arr = arr > 0.5
    elif dtype in ("uint8", "uint16", "int64"):
        arr = (arr * {"uint8": 255, "uint16": 65535, "int64": 1000}[dtype]).astype(dtype)
    else:
        arr = arr.astype(dtype)
        if special is not None:
            arr.flat[seed % arr.size] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "neg": -3.0,
                                         "big": 1e30}[special]
    try:
        known = mask_to_known(arr, size)
    except RestoreError as exc:
        note("mask array: RestoreError")
        assert "\n" not in str(exc)
    else:
        note("mask array: mask")
        assert known.shape == (1, 1, *size) and set(known.unique().tolist()) <= {0.0, 1.0}


# ============================================================================= model cards
@pytest.fixture(scope="module")
def tiny_model(work):
    from restore.archs.srresnet import SRResNet
    from restore.weight_files import export_model

    model = SRResNet(scale=2, num_blocks=1, channels=4)
    weights = export_model(work / "model", "tiny", model.state_dict(),
                           {"arch": "srresnet", "config": model.config, "scale": 2})
    return weights, json.loads(weights.with_suffix(".json").read_text())


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from([0, 1, -1, 2**31, 2**63, 10**30, 1e308, "4", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@st.composite
def card_mutations(draw, card: dict):
    """A mutated card: bytes that may not even be JSON."""
    card = json.loads(json.dumps(card))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(("top", "config", "config", "raw")))
        if where == "raw":
            continue
        target = card if where == "top" or not isinstance(card.get("config"), dict) else card["config"]
        keys = sorted(target) + ["arch", "config", "sha256", "scale", "num_blocks", "channels", "junk"]
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(("delete", "set", "set")))
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = draw(JUNK)
    try:
        text = json.dumps(card).encode()
    except ValueError:
        text = b"{}"
    tail = draw(st.sampled_from(("none", "none", "none", "truncate", "utf8", "bytes", "array")))
    if tail == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif tail == "utf8":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + b"\xff\xfe\xc3" + text[at:]
    elif tail == "bytes":
        text = draw(st.binary(max_size=64))
    elif tail == "array":
        text = b"[" + text + b"]"
    return text


@budget(300)
@given(data=st.data(), trust=st.booleans())
def test_model_cards(tiny_model, work, data, trust):
    from restore.registry import load_model
    from restore.weight_files import read_card

    weights, card = tiny_model
    text = data.draw(card_mutations(card))
    folder = work / "cards"
    folder.mkdir(exist_ok=True)
    target = folder / "m.safetensors"
    shutil.copyfile(weights, target)
    target.with_suffix(".json").write_bytes(text)
    try:
        read_card(target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, info = load_model(target, trust_unverified=trust)
        note("model card: loaded")
    except RestoreError as exc:
        note("model card: RestoreError")
        assert "\n" not in str(exc).strip()
    assert target.with_suffix(".json").read_bytes() == text


# ============================================================================= options of every command
def _parsers():
    from restore.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices


#: values an option may get: numbers, NaN, infinities, negatives, huge, strings, empty
VALUES = st.one_of(
    st.integers(-10, 100).map(str), st.sampled_from(["0", "-1", "1e9", "9" * 30, "nan", "NaN", "inf", "-inf", "1e-9",
                                                      "0.5", "2", "4", "8", "", " ", "-", "--", "x", "auto", "cpu",
                                                      "cuda", "cuda:7", "mps", "#fff", "white", "none", "1,2"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"), max_size=10))

#: commands run for real (cheap with these inputs); the others are parsed only (they train, serve, search)
RUN = {"info", "metrics", "models", "sr", "inpaint"}
#: flags never generated: slow (--compile), interactive (--help, --version) or naming server paths
SKIP_FLAGS = {"-h", "--help", "--version", "--compile"}
#: values of flags that would run something slow or name another place to write
PINNED = {("sr", "--model"): ["bicubic", "lanczos", "nope", "x.safetensors", ""],
          ("inpaint", "--method"): ["telea", "ns", "biharmonic"],
          ("inpaint", "--model"): ["nope", "x.safetensors", ""], ("inpaint", "--vae-model"): ["nope", ""],
          ("metrics", "--lpips"): None, ("metrics", "--device"): ["cpu", "nope", "cuda:9"],
          ("sr", "--device"): ["cpu", "nope", "cuda:9", "auto"], ("inpaint", "--device"): ["cpu", "nope", "cuda:9"]}


@st.composite
def argv_cases(draw, command: str, action_map: dict):
    """``[command, positionals..., --flags...]`` from the command's real flags with random values."""
    parser = action_map[command]
    paths = draw(st.lists(st.sampled_from(("{png}", "{jpg}", "{gray}", "{missing}", "{dir}")), min_size=1, max_size=2))
    argv = [command]
    if command in ("info", "sr", "inpaint"):
        argv += paths
    elif command == "metrics":
        argv += [paths[0], draw(st.sampled_from(("{png}", "{png_x}", "{missing}", "{gray}")))]
    if command == "inpaint":
        argv += ["--mask", draw(st.sampled_from(("{mask}", "{mask}", "{missing}", "{png}", "{dir}")))]
        argv += ["--method", draw(st.sampled_from(PINNED[("inpaint", "--method")]))]
    if command == "sr":
        argv += ["--model", draw(st.sampled_from(("bicubic", "lanczos")))]
    options = [a for a in parser._actions if a.option_strings and not set(a.option_strings) & SKIP_FLAGS]
    for action in draw(st.lists(st.sampled_from(options), max_size=5)) if options else []:
        flag = draw(st.sampled_from(action.option_strings))
        if (command, flag) in PINNED and PINNED[(command, flag)] is None:
            continue
        if action.nargs == 0:
            argv.append(flag)
            continue
        if (command, flag) in PINNED:
            value = draw(st.sampled_from(PINNED[(command, flag)]))
        elif flag in ("-o", "--output"):
            value = draw(st.sampled_from(("{out}/", "{out}/r.png", "{out}/r.jpg", "{out}/r.txt", "{png}", "{dir}")))
        elif action.choices and draw(st.integers(0, 3)):
            value = str(draw(st.sampled_from(list(action.choices))))
        else:
            value = draw(VALUES)
        argv.append(f"{flag}={value}" if draw(st.booleans()) or value.startswith("-") else flag)
        if not argv[-1].startswith(f"{flag}="):
            argv.append(value)
    return argv


def _cli_folder(root: Path) -> dict:
    """A fresh folder with tiny inputs; the names ``argv_cases`` fills in."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (16, 14, 3), dtype=np.uint8)).save(root / "a.png")
    Image.fromarray(rng.integers(0, 256, (16, 14, 3), dtype=np.uint8)).save(root / "b.jpg", quality=90)
    Image.fromarray(rng.integers(0, 256, (16, 14), dtype=np.uint8)).save(root / "g.png")
    Image.fromarray(rng.integers(0, 256, (16, 14, 3), dtype=np.uint8)).save(root / "a_x.png")
    mask = np.zeros((16, 14), np.uint8)
    mask[3:7, 2:6] = 255
    Image.fromarray(mask).save(root / "m.png")
    (root / "d").mkdir()
    (root / "out").mkdir()
    return {"png": root / "a.png", "jpg": root / "b.jpg", "gray": root / "g.png", "png_x": root / "a_x.png",
            "mask": root / "m.png", "missing": root / "missing.png", "dir": root / "d", "out": root / "out"}


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``restore ARGV`` in-process: (exit status, stdout, stderr)."""
    import contextlib

    from restore.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("default")  # as the command line shows them: on stderr
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exits (none expected: --help is not generated)
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def check_cli_case(root: Path, argv_template: list[str]) -> tuple[int, str]:
    """Run one generated command line in a fresh folder; the contract; (exit status, stderr)."""
    if root.exists():
        shutil.rmtree(root)
    names = _cli_folder(root)
    argv = list(argv_template)
    for key, value in names.items():  # not str.format: a generated value may hold braces
        argv = [a.replace("{%s}" % key, str(value)) for a in argv]
    inputs = {p: digest(p) for p in root.iterdir() if p.is_file()}
    code, out, err = run_main(argv)
    note(f"cli {argv[0]}: exit {code}")
    assert code in (0, 1, 2), (argv, code, err)
    assert "internal error" not in err and "Traceback" not in err, (argv, err)
    if code == 2:
        errors = [ln for ln in err.splitlines() if ln.startswith("restore: error:")]
        assert len(errors) == 1, (argv, err)
    assert "Warning:" not in err, (argv, err)
    assert {p: digest(p) for p in inputs} == inputs, f"an input changed: {argv}"
    strays = [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".restore-")]
    assert not strays, (argv, strays)
    return code, err


@pytest.mark.parametrize("command", sorted(RUN))
def test_cli_options_run(work, command):
    action_map = _parsers()

    @budget(60 if command in ("sr", "inpaint") else 40)
    @given(argv=argv_cases(command, action_map))
    @example(argv=[command, "{png}", *{"metrics": ["{png}"], "inpaint": ["--mask", "{mask}", "--method", "telea"],
                                      "sr": ["--model", "bicubic"]}.get(command, []), "--device=--"])
    def run(argv):
        check_cli_case(work / "cli" / command, argv)

    run()


def test_cli_options_parse_every_command():
    """Every command's parser (those too slow to run too): a Namespace or the one-line usage error."""
    from restore.cli.main import UsageError

    action_map = _parsers()

    @budget(400)
    @given(data=st.data())
    def parse(data):
        command = data.draw(st.sampled_from(sorted(action_map)))
        argv = data.draw(argv_cases(command, action_map))
        if command not in ("info", "metrics", "sr", "inpaint"):
            argv += data.draw(st.lists(VALUES, max_size=2))
        try:
            action_map[command].parse_args(argv[1:])
            note("parse: namespace")
        except UsageError as exc:
            note("parse: usage error")
            assert "\n" not in str(exc)

    parse()


# ============================================================================= the server (in-process ASGI)
HOST = "127.0.0.1:8765"


class Asgi:
    """Calls the ``restore serve`` app in-process: one event loop, the app's life span started once."""

    def __init__(self, app):
        self.app, self.loop = app, asyncio.new_event_loop()
        self.loop.run_until_complete(self._start())

    async def _start(self):
        self.app.server.start()

    def close(self):
        self.app.server.close()
        self.loop.run_until_complete(asyncio.sleep(0.01))  # the janitor's cancellation lands
        self.loop.close()

    def request(self, method: str, path: str, body: bytes = b"", headers: list | None = None,
                chunks: int = 1, timeout: float = 60.0) -> tuple[int, bytes]:
        return self.loop.run_until_complete(asyncio.wait_for(
            self._request(method, path, body, headers or [], chunks), timeout))

    async def _request(self, method, path, body, headers, chunks):
        done = asyncio.Event()
        step = max(1, -(-len(body) // max(1, chunks)))
        parts = [body[i:i + step] for i in range(0, len(body), step)] or [b""]
        pending = list(parts)
        status, out = [0], []

        async def receive():
            if pending:
                part = pending.pop(0)
                return {"type": "http.request", "body": part, "more_body": bool(pending)}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        raw_path, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": raw_path, "raw_path": raw_path.encode("utf-8", "surrogateescape"),
                 "query_string": query.encode("latin-1", "replace"), "root_path": "",
                 "headers": [(b"host", HOST.encode())] + [(k.encode("latin-1"), v.encode("latin-1"))
                                                          for k, v in headers],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8765)}
        await self.app(scope, receive, send)
        done.set()
        return status[0], b"".join(out)


@pytest.fixture(scope="module")
def asgi():
    try:
        from restore.serve.app import ServeConfig, create_app
    except ImportError as exc:  # the serve extra
        pytest.skip(f"the serve extra is not installed ({exc})")
    os.environ.pop("RESTORE_MAX_PIXELS", None)
    client = Asgi(create_app(ServeConfig(port=8765, device="cpu", queue=64, max_upload_bytes=256 * 1024,
                                         watch_timeout=3600)))
    yield client
    client.close()


def multipart(fields: list[tuple[str, str | None, bytes, str | None]], boundary: str) -> bytes:
    """``[(name, filename or None, value, content type or None)]`` as a multipart/form-data body."""
    out = b""
    for name, filename, value, ctype in fields:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode("utf-8", "surrogateescape") + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _tiny_png(width=12, height=10, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)), "PNG")


def _tiny_mask(width=12, height=10) -> bytes:
    arr = np.zeros((height, width), np.uint8)
    arr[2:6, 3:8] = 255
    return encode(Image.fromarray(arr), "PNG")


FIELD_NAMES = ("image", "mask", "reference", "model", "method", "outscale", "scale", "tile", "tile-pad", "steps",
               "restarts", "lambda", "lr", "seed", "blend", "margin", "invert-mask", "precision", "background",
               "format", "y-channel", "crop-border", "device", "output", "junk", "", "a\"b")


@st.composite
def form_fields(draw):
    files = []
    for name in draw(st.lists(st.sampled_from(("image", "mask", "reference")), max_size=3)) or ["image"]:
        kind = draw(st.sampled_from(("png", "mask", "mutated", "random", "empty")))
        if kind == "png":
            value = _tiny_png(*draw(st.sampled_from(((12, 10), (10, 12), (1, 1), (24, 20)))))
        elif kind == "mask":
            value = _tiny_mask()
        elif kind == "mutated":
            value = draw(mutated_images())[0]
        else:
            value = b"" if kind == "empty" else draw(st.binary(max_size=64))
        filename = draw(st.sampled_from(("x.png", "../../etc/passwd", "a.jpg", "", "noext", "ü.tif", "x.PNG")))
        files.append((name, filename, value, draw(st.sampled_from((None, "image/png", "text/plain")))))
    fields = []
    for name in draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=4)):
        value = {"model": st.sampled_from(("bicubic", "lanczos", "nope", "../weights/x.safetensors")),
                 "method": st.sampled_from(("telea", "ns", "gan", "x"))}.get(name, VALUES)
        fields.append((name, None, draw(value).encode("utf-8", "surrogateescape"), None))
    if draw(st.booleans()):  # the cheap methods, so a valid request finishes in milliseconds
        fields.append(("model", None, b"bicubic", None))
        fields.append(("method", None, b"telea", None))
    return draw(st.permutations(files + fields))


ENDPOINTS = ("/api/sr", "/api/inpaint", "/api/preview", "/api/jobs/sr", "/api/jobs/inpaint", "/api/jobs/preview",
             "/api/jobs/nope")


def _check_http(status: int, body: bytes, what) -> None:
    assert 200 <= status < 500, (status, body[:300], what)
    if status >= 400:
        assert "error" in json.loads(body), body[:200]


@budget(200)
@given(endpoint=st.sampled_from(ENDPOINTS), fields=form_fields(), chunks=st.integers(1, 4),
       boundary=st.sampled_from(("b0undary", "x" * 70, "----WebKitFormBoundary7MA4YWxkTrZu0gW")))
def test_server_multipart(asgi, endpoint, fields, chunks, boundary):
    body = multipart(fields, boundary)
    status, out = asgi.request("POST", endpoint, body,
                               [("content-type", f"multipart/form-data; boundary={boundary}")], chunks=chunks)
    note(f"server multipart: HTTP {status}")
    _check_http(status, out, [(f[0], f[1], len(f[2])) for f in fields])


@budget(200)
@given(endpoint=st.sampled_from(ENDPOINTS), body=st.one_of(st.binary(max_size=300),
                                                           JUNK.map(lambda v: json.dumps(v).encode())),
       ctype=st.sampled_from(("multipart/form-data; boundary=b0undary", "multipart/form-data", "application/json",
                              "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"", "",
                              "multipart/mixed; boundary=b0undary", "text/plain")),
       prefix=st.sampled_from((b"", b"--b0undary\r\n", b"--b0undary\r\nContent-Disposition: form-data; name=\"image\"; "
                                                       b"filename=\"a.png\"\r\n\r\n")))
def test_server_malformed_bodies(asgi, endpoint, body, ctype, prefix):
    headers = [("content-type", ctype)] if ctype else []
    status, out = asgi.request("POST", endpoint, prefix + body, headers)
    note(f"server malformed: HTTP {status}")
    _check_http(status, out, (ctype, prefix + body[:80]))


@budget(150)
@given(method=st.sampled_from(("GET", "POST", "DELETE", "PUT", "PATCH")),
       path=st.one_of(st.sampled_from(("/", "/api/models", "/api/status", "/api/jobs/x", "/api/jobs/x/events",
                                       "/api/jobs/x/result", "/static/app.js", "/static/../app.py",
                                       "/static/index.html", "/api/jobs/", "/api/jobs/sr/result?format=input")),
                      st.text(max_size=20).map(lambda s: "/api/jobs/" + s)))
def test_server_routes(asgi, method, path):
    if path.endswith("/events") and method == "GET":
        return  # a stream: a missing job is 404 before it, tested through the other routes
    status, out = asgi.request(method, path, b"")
    note(f"server routes: HTTP {status}")
    assert status < 500, (method, path, status, out[:200])


# ============================================================================= defects found, as plain regression tests
def test_tiff_with_a_broken_ifd_chain_is_one_line_through_the_cli(work):
    path = work / "broken_ifd.tif"
    path.write_bytes(TIFF_BROKEN_IFD)
    code, out, err = run_main(["info", str(path)])
    assert code == 2 and err.strip() == f"restore: error: {path}: cannot open image (Missing dimensions)"


@pytest.mark.parametrize("argv", [["sr", "{png}", "--model", "bicubic", "--outscale=--"],
                                  ["sr", "{png}", "--model", "bicubic", "--tile=--"],
                                  ["inpaint", "{png}", "--mask", "{mask}", "--method", "telea", "--steps=--"]])
def test_double_dash_as_an_explicit_value_is_checked(work, argv):
    """argparse dropped ``--`` given as ``--outscale=--`` and left an unchecked empty list (internal error)."""
    code, err = check_cli_case(work / "cli" / "dashdash", argv)
    assert code == 2 and "got '--'" in err


def test_double_dash_as_a_server_field_is_a_400():
    from restore.serve.tasks import FieldError, parse_options

    with pytest.raises(FieldError, match="field outscale: expected a number, got '--'"):
        parse_options("sr", {"outscale": "--"})
