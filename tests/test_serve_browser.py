"""The ``restore serve`` page in a real browser: headless Chromium (Debian's) driven by Playwright.

Opens ``examples/astronaut.png``, paints a stroke with the mouse, runs Telea inpainting and bicubic
super-resolution, and checks what came back: the sizes, every pixel outside the painted hole
unchanged, the same pixels as the pipeline. Saves a screenshot (``docs/serve-screenshot.png`` when
``RESTORE_UPDATE_SCREENSHOT=1``, else only under pytest's temporary folder).

Needs ``chromium`` (``apt-get install chromium``) and ``playwright`` (``pip install -e '.[serve-test]'``;
never ``playwright install``: the browser is the system's). Skipped locally with the reason when
either is missing; in CI (``CI=true``, where ``.ci/run`` installs both) that is a failure instead.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_serve import ASTRONAUT, ROOT, ServeProcess, serve_extra_or_skip

SCREENSHOT = ROOT / "docs" / "serve-screenshot.png"


def chromium_or_skip() -> str:
    """The system Chromium's path; skip (fail in CI) when it or Playwright is missing."""
    in_ci = os.environ.get("CI") == "true"
    path = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).is_file()), None)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if in_ci:
            pytest.fail("CI must install playwright (pip install -e '.[serve-test]')")
        pytest.skip("playwright is not installed: pip install -e '.[serve-test]'")
    if path is None:
        if in_ci:
            pytest.fail("CI must install Chromium (apt-get install chromium)")
        pytest.skip("Chromium is not installed: apt-get install chromium (the browser tests use the system's)")
    return path


def from_page(page, expression: str) -> np.ndarray:
    """Decode the PNG bytes a page function returns as base64."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(page.evaluate(expression)))))


def run_and_wait(page, timeout_ms: int = 60_000) -> str:
    page.evaluate("document.body.dataset.state = 'clicked'")  # so the previous run's 'done' does not count
    page.click("#run")
    page.wait_for_function("() => ['done', 'failed'].includes(document.body.dataset.state)", timeout=timeout_ms)
    return page.evaluate("document.body.dataset.state")


def test_the_page_paints_inpaints_and_upscales(tmp_path):
    serve_extra_or_skip()
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    import torch

    from restore.io import read_image, write_image
    from restore.pipelines import SuperResolver

    image = np.asarray(Image.open(ASTRONAUT))
    server = ServeProcess(tmp_path, "--device", "cpu")
    problems: list[str] = []
    try:
        with sync_playwright() as playwright:
            # --no-sandbox: Chromium refuses to start its sandbox as root (CI runs as root)
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
            page.goto(server.url)
            page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=30_000)
            page.set_input_files("#image-file", str(ASTRONAUT))
            page.wait_for_function("() => document.body.dataset.state === 'image'", timeout=30_000)

            # Paint one stroke with the mouse, from 30% to 70% across, 45% to 55% down.
            page.select_option("#method", "telea")
            page.eval_on_selector("#brush-size", "el => { el.value = '12'; el.dispatchEvent(new Event('input')); }")
            box = page.locator("#mask-canvas").bounding_box()

            def stroke(x0, y0, x1, y1):
                page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
                page.mouse.down()
                page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=12)
                page.mouse.up()

            # An uploaded mask goes to the server as it is; a stroke, the eraser and undo edit the mask.
            hole_file = tmp_path / "hole.png"
            Image.fromarray(np.where(np.arange(256)[:, None] < 40, 255, 0).astype(np.uint8).repeat(256, 1)).save(hole_file)
            page.set_input_files("#mask-file", str(hole_file))
            page.wait_for_function("() => restoreApp.state.ops.length === 1")
            assert base64.b64decode(page.evaluate("restoreApp.maskBase64()")) == hole_file.read_bytes()
            page.click("#clear")
            assert not from_page(page, "restoreApp.maskBase64()")[..., 0].any()
            stroke(0.3, 0.45, 0.7, 0.55)
            painted = (from_page(page, "restoreApp.maskBase64()")[..., 0] > 127).sum()
            page.click("#tool-eraser")
            stroke(0.3, 0.45, 0.5, 0.5)
            assert 0 < (from_page(page, "restoreApp.maskBase64()")[..., 0] > 127).sum() < painted
            page.click("#undo")
            page.click("#tool-brush")
            mask = from_page(page, "restoreApp.maskBase64()")
            hole = mask[..., 0] > 127
            rows, cols = np.nonzero(hole)
            assert hole.shape == (256, 256) and hole.sum() > 400
            assert 0.3 * 256 - 10 <= cols.min() and cols.max() <= 0.7 * 256 + 10
            assert 0.45 * 256 - 10 <= rows.min() and rows.max() <= 0.55 * 256 + 10

            assert run_and_wait(page) == "done", page.inner_text("#status")
            result = from_page(page, "restoreApp.resultBase64()")
            assert result.shape == image.shape
            assert np.array_equal(result[~hole], image[~hole]), "pixels outside the stroke changed"
            assert not np.array_equal(result[hole], image[hole])
            assert page.get_attribute("#download", "download") == "astronaut_inpainted.png"
            assert page.is_visible("#compare-after") and page.is_enabled("#compare-slider")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(tmp_path / "serve-screenshot.png"), full_page=True)
            if os.environ.get("RESTORE_UPDATE_SCREENSHOT") == "1":
                shutil.copy(tmp_path / "serve-screenshot.png", SCREENSHOT)

            # Super-resolution of the same image with bicubic: x4, the pipeline's own pixels.
            page.check("#task-sr")
            page.select_option("#sr-model", "bicubic")
            assert run_and_wait(page) == "done", page.inner_text("#status")
            upscaled = from_page(page, "restoreApp.resultBase64()")
            assert upscaled.shape == (1024, 1024, 3)
            assert np.array_equal(upscaled, SuperResolver.from_pretrained("bicubic", device="cpu")(image))
            assert page.get_attribute("#download", "download") == "astronaut_x4.png"

            # A 16-bit TIFF with alpha: the browser cannot draw TIFF (the server's preview stands in),
            # and "the input's format" downloads a 16-bit TIFF with its alpha.
            tiff = tmp_path / "small.tiff"
            lr = read_image(ROOT / "examples" / "astronaut_lr_x4.png").tensor
            write_image(tiff, lr, alpha=torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 1, 64, 64), bit_depth=16)
            page.set_input_files("#image-file", str(tiff))
            page.wait_for_function("() => document.body.dataset.state === 'image'", timeout=30_000)
            assert page.evaluate("document.getElementById('input-image').naturalWidth") == 64
            page.select_option("#format", "input")
            assert run_and_wait(page) == "done", page.inner_text("#status")
            (tmp_path / "download.tiff").write_bytes(base64.b64decode(page.evaluate("restoreApp.resultBase64()")))
            kept = read_image(tmp_path / "download.tiff")
            assert (kept.format, kept.size, kept.bit_depth, kept.alpha is not None) == ("TIFF", (256, 256), 16, True)
            assert page.get_attribute("#download", "download") == "small_x4.tiff"
            browser.close()
    finally:
        code = server.stop()
    assert not problems, problems
    assert code in (0, 143) and server.workdirs() == [], server.stderr()
