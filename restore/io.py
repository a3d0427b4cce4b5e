"""Image files in and out, faithfully.

:func:`read_image` returns a :class:`LoadedImage`: the colour planes as a ``(1, C, H, W)`` float
tensor in ``[0, 1]`` (``C`` = 1 for gray, 3 for colour), the alpha plane apart, and what is needed to
write a result back the way it came (bit depth, original mode, ICC profile, format). EXIF orientation
is applied on reading, so pixels are upright and the written file carries no orientation tag.

:func:`write_image` writes atomically (a temporary file in the target folder, then a rename) and
refuses to replace an existing file unless ``overwrite=True``, and never replaces a protected path
(an input).

Supported: PNG (8 and 16 bit), JPEG, WebP, TIFF (8 and 16 bit), BMP; gray, gray+alpha, RGB, RGBA,
palette (with or without transparency), bilevel and CMYK (converted to RGB).

Example:
    >>> import torch, tempfile, os
    >>> from restore.io import read_image, write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "ramp.png")
    >>> ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 32, 64)
    >>> _ = write_image(path, ramp, bit_depth=16)
    >>> img = read_image(path)
    >>> img.tensor.shape, img.bit_depth, img.alpha is None
    (torch.Size([1, 3, 32, 64]), 16, True)
"""

from __future__ import annotations

import os
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: commands that need no network start fast
    import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError, OutputExistsError, RestoreError

#: Extensions restore reads and writes (lower case, with the dot).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
#: Default decompression-bomb guard in pixels; override with ``max_pixels=`` or ``RESTORE_MAX_PIXELS``.
DEFAULT_MAX_PIXELS = 256_000_000

_SUPPORTED_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr",
                    "I;16", "I;16L", "I;16B", "I;16N"}
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}


@dataclass
class LoadedImage:
    """A decoded image and what is needed to write a result back faithfully.

    Attributes:
        tensor: ``(1, C, H, W)`` float32 in ``[0, 1]``; ``C`` is 1 (gray) or 3 (RGB).
        alpha: ``(1, 1, H, W)`` float32 in ``[0, 1]`` or ``None``.
        bit_depth: 8 or 16 (bits per channel of the source).
        mode: the source's PIL mode (``"P"``, ``"LA"``, ``"I;16"``, ``"RGB"``, ...).
        format: the source's container (``"PNG"``, ``"JPEG"``, ...), or ``None`` when built in memory.
        icc_profile: the embedded ICC profile bytes, or ``None``.
        exif_orientation: the EXIF orientation tag that was applied (1 = upright / none).
        path: where it was read from, or ``None``.
    """

    tensor: torch.Tensor
    alpha: torch.Tensor | None = None
    bit_depth: int = 8
    mode: str = "RGB"
    format: str | None = None
    icc_profile: bytes | None = None
    exif_orientation: int = 1
    path: Path | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.tensor.shape[-1], self.tensor.shape[-2]

    @property
    def is_gray(self) -> bool:
        return self.tensor.shape[1] == 1

    def with_pixels(self, tensor: torch.Tensor, alpha: torch.Tensor | None = None) -> "LoadedImage":
        """The same metadata around new pixels (e.g. a restored result of another size)."""
        return replace(self, tensor=tensor, alpha=alpha, path=None)


#: files larger than this are refused before reading (a bound on memory for any input).
MAX_FILE_BYTES = 2 * 2**30


def max_pixels_default() -> int:
    env = os.environ.get("RESTORE_MAX_PIXELS")
    if env:
        try:
            value = float(env)
        except ValueError:
            value = float("nan")
        if not (value >= 1 and value < 2**62):  # NaN, infinities, zero and negatives all fail this
            raise RestoreError(f"RESTORE_MAX_PIXELS must be a positive number of pixels, got {env!r}")
        return int(value)
    return DEFAULT_MAX_PIXELS


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _fail(path: Path, problem: str) -> ImageReadError:
    return ImageReadError(f"{path}: {problem}")


def _png_bit_depth(data: bytes) -> int:
    # IHDR is always the first chunk: 8-byte signature, 4 length, 4 type, 4 width, 4 height, 1 depth.
    return data[24] if len(data) > 24 and data[12:16] == b"IHDR" else 8


def _tiff_bit_depth(img: Image.Image) -> int:
    bits = getattr(img, "tag_v2", {}).get(258, 8)
    if isinstance(bits, (tuple, list)):
        bits = max(bits)
    return int(bits)


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate / flip an ``(H, W, ...)`` array as EXIF orientation 1..8 says (as ImageOps.exif_transpose)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1],
    }
    return np.ascontiguousarray(ops[orientation](arr)) if orientation in ops else arr


def _decode_16bit(data: bytes, path: Path, orientation: int) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise _fail(path, "cannot decode the 16-bit image (truncated or corrupt)")
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]  # BGR -> RGB
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]  # BGRA -> RGBA
    return _apply_orientation(arr, orientation)


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> LoadedImage:
    """Read an image file into a :class:`LoadedImage`.

    Args:
        path: the file.
        max_pixels: refuse images whose declared width x height exceeds this (decompression-bomb
            guard); default :data:`DEFAULT_MAX_PIXELS` or the ``RESTORE_MAX_PIXELS`` environment variable.

    Raises:
        ImageReadError: one line naming the file and the problem (missing, empty, truncated, not an
            image, unsupported mode, too large).
    """
    import torch

    colour, alpha, scale, meta = _decode(path, max_pixels)
    tensor = torch.from_numpy(np.ascontiguousarray(colour).astype(np.float32) / scale).permute(2, 0, 1)[None]
    alpha_t = None
    if alpha is not None:
        alpha_t = torch.from_numpy(np.ascontiguousarray(alpha).astype(np.float32) / scale).permute(2, 0, 1)[None]
    return LoadedImage(tensor=tensor.contiguous(), alpha=alpha_t, **meta)


def probe_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> dict:
    """What ``restore info`` reports, from a full decode (so a corrupt file fails) but without torch.

    Returns ``{"format", "width", "height", "mode", "channels" ("gray"/"RGB"), "bit_depth", "alpha",
    "exif_orientation", "icc_profile" (bytes of it, 0 when none)}``. Raises :class:`ImageReadError`
    as :func:`read_image` does.
    """
    colour, alpha, _, meta = _decode(path, max_pixels)
    return {"format": meta["format"], "width": colour.shape[1], "height": colour.shape[0], "mode": meta["mode"],
            "channels": "gray" if colour.shape[2] == 1 else "RGB", "bit_depth": meta["bit_depth"],
            "alpha": alpha is not None, "exif_orientation": meta["exif_orientation"],
            "icc_profile": len(meta["icc_profile"] or b"")}


def _stat_input(path: Path) -> os.stat_result:
    """``path``'s stat when it is a regular file; else the one-line :class:`ImageReadError` reading it would give."""
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:  # a symlink loop, a permission problem...
        raise _fail(path, f"cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO would hang, /dev/zero would never end
        raise _fail(path, "not a regular file (a pipe, socket or device); give an image file")
    if not os.access(path, os.R_OK):
        raise _fail(path, "cannot read (Permission denied)")
    return info


def check_input_files(paths) -> None:
    """Raise the one-line :class:`ImageReadError` of the first path that is missing, a folder, not a regular
    file or unreadable (as :func:`read_image` would), without decoding anything or importing torch."""
    for path in paths:
        _stat_input(Path(path))


def check_named_inputs(items: list[str]) -> None:
    """Raise the one-line :class:`ImageReadError` of the first item of :func:`expand_inputs`'s list that names a
    file (not a folder or glob pattern) which is missing, not a regular file or unreadable. Nothing is decoded
    and torch is not imported: commands call it before loading a model, so a typo is reported at once."""
    for item in items:
        p = Path(item)
        if not p.is_dir() and not any(ch in str(item) for ch in "*?["):
            _stat_input(p)


def _decode(path: str | os.PathLike, max_pixels: int | None):
    """``(colour (H, W, C), alpha (H, W, 1) or None, full-scale value, LoadedImage metadata)`` as numpy;
    arguments and errors as :func:`read_image`."""
    path = Path(path)
    limit = max_pixels_default() if max_pixels is None else max_pixels
    info = _stat_input(path)
    if info.st_size > MAX_FILE_BYTES:
        raise _fail(path, f"file is {info.st_size / 2**30:.1f} GiB, more than restore reads "
                          f"({MAX_FILE_BYTES / 2**30:.0f} GiB)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _fail(path, f"cannot read ({exc.strerror or exc})") from None
    if not data:
        raise _fail(path, "file is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns about what it finds damaged (corrupt EXIF, truncated TIFF tags...): the file is then
        # decoded or refused in one line, and a warning on stderr would be a second line.
        warnings.simplefilter("ignore")
        return _decode_data(path, data, limit)


def _decode_data(path: Path, data: bytes, limit: int):
    """:func:`_decode` on the file's bytes ``data``."""
    import io as _io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own bomb warnings: we apply our own limit below
        saved_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            img = Image.open(_io.BytesIO(data))
        except UnidentifiedImageError:
            raise _fail(path, "not an image restore can read (supported: PNG, JPEG, WebP, TIFF, BMP)") from None
        except Exception as exc:  # noqa: BLE001 - any decoder error is a bad file, reported in one line
            raise _fail(path, f"cannot open image ({exc})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved_limit

    try:
        frames = getattr(img, "n_frames", 1)  # TIFF walks its chain of IFDs here: a broken one raises
    except Exception as exc:  # noqa: BLE001 - any decoder error is a bad file, reported in one line
        raise _fail(path, f"cannot open image ({exc})") from None
    if frames > 1:
        raise _fail(path, f"holds {frames} frames (an animation or a multi-page file); restore reads "
                          "single images: extract the frame you want first")
    width, height = img.size
    if width * height > limit:
        raise _fail(path, f"declared size {width}x{height} ({width * height / 1e6:.0f} MP) exceeds the "
                          f"pixel limit of {limit / 1e6:.0f} MP (raise it with RESTORE_MAX_PIXELS)")
    if img.mode not in _SUPPORTED_MODES:
        raise _fail(path, f"unsupported image mode {img.mode!r} (supported: gray, gray+alpha, RGB, "
                          "RGBA, palette, 16-bit gray/RGB)")
    fmt = img.format
    icc = img.info.get("icc_profile") or None
    bit_depth = 8
    if fmt == "PNG":
        bit_depth = 16 if _png_bit_depth(data) == 16 else 8
    elif fmt == "TIFF":
        bit_depth = 16 if _tiff_bit_depth(img) == 16 else 8
    mode = img.mode
    if not (bit_depth == 16 and fmt in _SIXTEEN_BIT_FORMATS):
        # Decode the pixels now: getexif() below loads the image itself and would swallow a corrupt
        # stream, after which a second load() returns a half-decoded picture.
        try:
            img.load()
        except Exception as exc:  # noqa: BLE001 - any decoder error is a bad file
            reason = "truncated or corrupt image data" if "truncated" in str(exc).lower() else str(exc)
            raise _fail(path, f"cannot decode ({reason})") from None
    try:
        orientation = int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses the orientation
        orientation = 1

    try:
        if bit_depth == 16 and fmt in _SIXTEEN_BIT_FORMATS:
            arr = _decode_16bit(data, path, orientation)
            scale = 65535.0
            gray_source = mode in ("L", "LA", "I;16", "I;16L", "I;16B", "I;16N", "I")
            if arr.ndim == 2:
                colour, alpha = arr[..., None], None
            elif arr.shape[2] == 2:
                colour, alpha = arr[..., :1], arr[..., 1:]
            elif arr.shape[2] == 4:
                colour, alpha = arr[..., :3], arr[..., 3:]
                if gray_source:
                    colour = colour[..., :1]
            else:
                colour, alpha = arr, None
                if gray_source:
                    colour = colour[..., :1]
        else:
            img.load()
            img = ImageOps.exif_transpose(img) if orientation != 1 else img
            scale = 255.0
            has_alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or (
                mode == "P" and "transparency" in img.info)
            gray = mode in ("1", "L", "LA", "La") or (mode == "P" and _palette_is_gray(img))
            if mode == "CMYK" or mode == "YCbCr":
                img = img.convert("RGB")
            target = ("LA" if has_alpha else "L") if gray else ("RGBA" if has_alpha else "RGB")
            arr = np.asarray(img.convert(target))
            if arr.ndim == 2:
                arr = arr[..., None]
            colour, alpha = (arr[..., :-1], arr[..., -1:]) if has_alpha else (arr, None)
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated / corrupt payloads
        reason = "truncated or corrupt image data" if "truncated" in str(exc).lower() else str(exc)
        raise _fail(path, f"cannot decode ({reason})") from None

    meta = {"bit_depth": bit_depth, "mode": mode, "format": fmt, "icc_profile": icc,
            "exif_orientation": orientation, "path": path}
    return colour, alpha, scale, meta


def _palette_is_gray(img: Image.Image) -> bool:
    pal = img.getpalette()
    if not pal:
        return False
    rgb = np.asarray(pal[: 3 * 256]).reshape(-1, 3)
    used = np.unique(np.asarray(img))
    used = used[used < len(rgb)]
    return bool(np.all(rgb[used, 0] == rgb[used, 1]) and np.all(rgb[used, 1] == rgb[used, 2]))


def _png_insert_chunk(png: bytes, chunk_type: bytes, payload: bytes) -> bytes:
    """Insert a chunk right after IHDR (where iCCP must precede PLTE/IDAT)."""
    chunk = struct.pack(">I", len(payload)) + chunk_type + payload
    chunk += struct.pack(">I", zlib.crc32(chunk_type + payload) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _to_hwc(tensor: torch.Tensor) -> np.ndarray:
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise RestoreError(f"write_image takes a (1, C, H, W) float tensor or a LoadedImage, got "
                           f"{type(tensor).__name__} (convert numpy with torch.from_numpy(...).permute(2, 0, 1)[None])")
    if not tensor.is_floating_point():
        raise RestoreError(f"write_image takes float pixels in [0, 1], got {tensor.dtype} "
                           "(divide 8-bit data by 255 first)")
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise RestoreError(f"write_image takes one image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 2, 3, 4) or t.shape[1] < 1 or t.shape[2] < 1:
        raise RestoreError(f"expected (1, C, H, W) or (C, H, W) with C in 1..4 and H, W >= 1, got shape "
                           f"{tuple(tensor.shape)}")
    if not torch.isfinite(t).all():
        raise RestoreError("the image to write holds NaN or infinite values")
    # One owned float32 HWC copy (the caller's tensor is never touched); later steps work in place on it.
    arr = np.array(t.permute(1, 2, 0).cpu().numpy(), dtype=np.float32, order="C", copy=True)
    return np.clip(arr, 0, 1, out=arr)


def _quantise(colour: np.ndarray, peak: float, dtype) -> np.ndarray:
    """Scale, round and cast in place where possible: huge outputs must not hold several float copies."""
    np.multiply(colour, peak, out=colour)
    np.rint(colour, out=colour)
    return colour.astype(dtype)


def encode_image(tensor: torch.Tensor, fmt: str, *, alpha: torch.Tensor | None = None,
                 bit_depth: int = 8, icc_profile: bytes | None = None, quality: int = 95) -> bytes:
    """Encode ``(1, C, H, W)`` in ``[0, 1]`` (C = 1 or 3) plus optional alpha to file bytes.

    ``fmt`` is an extension such as ``".png"``. 16-bit is kept for PNG and TIFF; other formats are
    8-bit. JPEG and BMP cannot hold alpha: it is dropped there (the caller should pick PNG/WebP).
    """
    fmt = fmt.lower().lstrip(".")
    fmt = {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)
    if bit_depth not in (8, 16):
        raise RestoreError(f"bit depth must be 8 or 16, got {bit_depth}")
    colour = _to_hwc(tensor)
    if alpha is not None and fmt in ("jpg", "bmp"):
        raise RestoreError(f"the image has an alpha channel and {fmt.upper()} cannot hold one: write PNG or WebP, "
                           "or flatten it onto a colour (restore sr/inpaint --background white)")
    if alpha is not None:
        colour = np.concatenate([colour, _to_hwc(alpha)], axis=2)
    channels = colour.shape[2]
    sixteen = bit_depth == 16 and fmt in ("png", "tiff")
    if sixteen:
        import cv2

        arr = _quantise(colour, 65535.0, np.uint16)
        if channels == 2:  # OpenCV cannot write gray+alpha: widen to RGBA, nothing is lost
            arr = np.concatenate([arr[..., :1]] * 3 + [arr[..., 1:]], axis=2)
            channels = 4
        if channels == 3:
            arr = arr[..., ::-1]
        elif channels == 4:
            arr = arr[..., [2, 1, 0, 3]]
        ok, buf = cv2.imencode("." + fmt, np.ascontiguousarray(arr))
        if not ok:
            raise RestoreError(f"OpenCV could not encode a 16-bit {fmt.upper()}")
        data = buf.tobytes()
        if icc_profile and fmt == "png":
            data = _png_insert_chunk(data, b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile))
        return data

    import io as _io

    arr = _quantise(colour, 255.0, np.uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    pil = Image.fromarray(arr[..., 0] if channels == 1 else arr, mode=mode)
    buf = _io.BytesIO()
    kwargs: dict = {}
    if icc_profile and fmt in ("png", "jpg", "webp", "tiff"):
        kwargs["icc_profile"] = icc_profile
    if fmt == "jpg":
        kwargs.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "webp":
        kwargs.update(quality=quality, lossless=quality >= 100)
    elif fmt == "tiff":
        kwargs.update(compression="tiff_deflate")
    pil_format = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}.get(fmt)
    if pil_format is None:
        raise RestoreError(f"cannot write .{fmt} files (supported: png, jpg, webp, tiff, bmp)")
    pil.save(buf, format=pil_format, **kwargs)
    return buf.getvalue()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def resolve_path(path: str | os.PathLike) -> Path:
    """``Path(path).resolve()``, but a symbolic link loop is a :class:`RestoreError` (one line for the user),
    not Python's ``RuntimeError`` (up to 3.12) or ``OSError``.

    >>> resolve_path("a/../b") == Path("b").resolve()
    True
    """
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        raise RestoreError(f"{path}: symbolic link loop (the link leads back to itself)") from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False,
                       protect: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Write bytes to ``path`` through a temporary file and a rename, so a reader never sees half a file.

    Refuses an existing ``path`` unless ``overwrite``, and always refuses any path in ``protect``.
    """
    path = Path(path)
    for p in protect:
        if resolve_path(p) == resolve_path(path) or _same_file(Path(p), path):
            raise OutputExistsError(f"{path}: refusing to overwrite an input file")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    if path.is_dir():
        raise OutputExistsError(f"{path}: is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestoreError(f"{path}: cannot create its folder ({exc.strerror or exc})") from None
    if not path.parent.is_dir():
        raise RestoreError(f"{path}: {path.parent} is not a folder")
    try:
        _write_new(path, data, overwrite)
    except OSError as exc:  # a full or read-only disk, a name too long...
        raise RestoreError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def _write_new(path: Path, data: bytes, overwrite: bool) -> None:
    # A short temp name (the output's own name may be near the 255-byte limit), in the same folder.
    fd, tmp = tempfile.mkstemp(prefix=".restore-", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _commit_new(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _commit_new(tmp: str, path: Path) -> None:
    """Move the finished ``tmp`` to ``path`` only if ``path`` does not exist, in one atomic step.

    A hard link fails when the name exists, so of two processes writing the same new output exactly
    one succeeds (a check-then-rename would let the second silently replace the first).
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(f"{path}: already exists (pass --overwrite to replace it)") from None
    except OSError:  # a file system without hard links: exclusive create, then replace our own file
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_umask()))
        except FileExistsError:
            raise OutputExistsError(f"{path}: already exists (pass --overwrite to replace it)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_image(path: str | os.PathLike, image: torch.Tensor | LoadedImage, *,
                alpha: torch.Tensor | None = None, bit_depth: int | None = None,
                icc_profile: bytes | None = None, quality: int = 95, overwrite: bool = False,
                protect: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Write ``(1, C, H, W)`` (or a :class:`LoadedImage`) in ``[0, 1]`` to ``path`` atomically.

    The format comes from the extension. With a :class:`LoadedImage`, its alpha, bit depth and ICC
    profile are used unless given explicitly. Returns the written path.
    """
    path = Path(path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise RestoreError(f"{path}: unknown output extension (use one of {', '.join(IMAGE_EXTENSIONS)})")
    if isinstance(image, LoadedImage):
        alpha = image.alpha if alpha is None else alpha
        bit_depth = image.bit_depth if bit_depth is None else bit_depth
        icc_profile = image.icc_profile if icc_profile is None else icc_profile
        tensor = image.tensor
    else:
        tensor = image
    data = encode_image(tensor, path.suffix, alpha=alpha, bit_depth=bit_depth or 8,
                        icc_profile=icc_profile, quality=quality)
    return atomic_write_bytes(path, data, overwrite=overwrite, protect=protect)


def flatten_alpha(colour: torch.Tensor, alpha: torch.Tensor, background: str) -> torch.Tensor:
    """``colour`` composited over a solid ``background`` (a CSS/PIL colour name or ``#rrggbb``) by ``alpha``.

    ``(B, C, H, W)`` and ``(B, 1, H, W)`` in [0, 1] -> ``(B, C, H, W)``; gray stays gray (the background's luma).
    """
    import torch
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(background)[:3]
    except ValueError:
        raise RestoreError(f"unknown background colour {background!r} (a name such as white, or #rrggbb)") from None
    bg = torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255
    if colour.shape[1] == 1:
        bg = (bg * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return colour * alpha + bg.to(colour) * (1 - alpha)


def expand_inputs(items: list[str], *, recursive: bool = False) -> list[Path]:
    """Turn files, folders and glob patterns into a sorted, de-duplicated list of image files.

    A folder contributes its image files (by extension); a glob its matches. A named file is kept
    whatever its extension (reading it reports what is wrong). An item matching nothing raises.
    """
    import glob

    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(f for f in p.glob(pattern) if f.is_file() and is_image_file(f))
            if not files:
                raise RestoreError(f"{p}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            found.extend(files)
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise RestoreError(f"{item}: pattern matches no files")
            found.extend(matches)
        else:
            found.append(p)
    seen: set[Path] = set()
    unique = []
    for f in found:
        key = resolve_path(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
