"""The ``restore serve`` page in a real browser: headless Chromium (Debian's) driven by Playwright.

Opens ``examples/astronaut.png``, paints a stroke with the mouse, runs Telea inpainting and bicubic
super-resolution, and checks what came back: the sizes, every pixel outside the painted hole
unchanged, the same pixels as the pipeline. Saves a screenshot at 1280x720 (``docs/serve-screenshot.png``
when ``RESTORE_UPDATE_SCREENSHOT=1``, else only under pytest's temporary folder).

Then, on tiny images at a laptop's 1280x720 and a phone's 390x844, assertions on the layout rather
than the eye: the Run button and the status line inside the viewport, no horizontal scrolling, no
broken image, no download before a result; the CLI's defaults; each result labelled with what ran and
why; the pipeline's progress (steps, percentage, time left); a new image clearing the old result;
chaining a result into the next task; zoom; undo and redo.

Needs ``chromium`` (``apt-get install chromium``) and ``playwright`` (``pip install -e '.[serve-test]'``;
never ``playwright install``: the browser is the system's). Skipped locally with the reason when
either is missing; in CI (``CI=true``, where ``.ci/run`` installs both) that is a failure instead.
"""

from __future__ import annotations

import base64
import io
import os
import re
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
            page = browser.new_page(viewport={"width": 1280, "height": 720})
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
            assert box["y"] + box["height"] <= 720, box

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


# ------------------------------------------------------------------------------ layout and behaviour
# One server and one browser for the tests below; tiny images, so each test takes a few seconds.

VIEWPORTS = {"laptop": (1280, 720), "phone": (390, 844)}


@pytest.fixture(scope="module")
def browser_and_server(tmp_path_factory):
    serve_extra_or_skip()
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("serve-page")
    server = ServeProcess(tmp, "--device", "cpu")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser, server
        browser.close()
    finally:
        playwright.stop()
        code = server.stop()
    assert code in (0, 143) and server.workdirs() == [], server.stderr()


@pytest.fixture
def open_page(browser_and_server):
    """``open_page(viewport) -> page`` at the server's URL, models loaded; no page error or console error."""
    browser, server = browser_and_server
    pages, problems = [], []

    def opener(viewport: str):
        width, height = VIEWPORTS[viewport]
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.goto(server.url)
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=30_000)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()
    assert not problems, problems


def tiny_png(path: Path, width: int, height: int, seed: int = 0, gray: bool = False) -> Path:
    """A smooth image with a little texture (inpainting changes the hole), ``width`` x ``height``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels[..., 0] if gray else pixels).save(path)
    return path


def inside_viewport(page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    view = page.viewport_size
    assert box is not None, f"{selector} is not displayed"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    assert right <= view["width"] and bottom <= view["height"], (selector, box, view)
    return box


def assert_layout(page) -> None:
    """Run and the status line visible without scrolling, nothing wider than the screen, no broken image."""
    page.evaluate("window.scrollTo(0, 0)")
    inside_viewport(page, "#run")
    inside_viewport(page, "#status")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    broken = page.evaluate("""[...document.images]
        .filter((img) => img.getClientRects().length > 0 && getComputedStyle(img).visibility !== 'hidden')
        .filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.id || img.src)""")
    assert broken == [], f"broken images shown: {broken}"
    dead_links = page.evaluate("""[...document.querySelectorAll('a')]
        .filter((a) => a.getClientRects().length > 0 && !a.getAttribute('href')).map((a) => a.id)""")
    assert dead_links == [], f"links that go nowhere: {dead_links}"


def assert_no_result(page) -> None:
    assert not page.is_visible("#download") and not page.is_visible("#use-result")
    assert not page.is_visible("#result-label") and page.inner_text("#result-label") == ""
    assert page.get_attribute("#download", "href") is None
    assert page.evaluate("restoreApp.state.result") is None
    assert page.evaluate("document.getElementById('compare-after').getAttribute('src')") is None
    assert page.inner_text("#metrics") == ""


def open_image(page, path: Path) -> None:
    page.evaluate("document.body.dataset.state = 'opening'")
    page.set_input_files("#image-file", str(path))
    page.wait_for_function("() => document.body.dataset.state === 'image'", timeout=30_000)


def paint(page, x0=0.2, y0=0.3, x1=0.8, y1=0.6) -> None:
    """One stroke with the mouse over the mask canvas (scrolled to the middle of the screen first)."""
    page.eval_on_selector("#mask-canvas", "el => el.scrollIntoView({block: 'center'})")
    box = page.locator("#mask-canvas").bounding_box()
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=6)
    page.mouse.up()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_empty_state_defaults_and_layout(open_page, viewport, tmp_path):
    """Before any image: no broken image, no download, disabled Run and mask history; the CLI's defaults
    and model list; Run and status on screen with either task's options, before and after opening."""
    from restore.inpainting.methods import METHOD_CHOICES
    from restore.serve.tasks import served_models

    page = open_page(viewport)
    assert_layout(page)
    assert_no_result(page)
    for button in ("#run", "#undo", "#redo", "#clear"):
        assert page.is_disabled(button), button
    assert not page.is_visible("#cancel")

    assert page.input_value("#method") == "auto"
    assert page.eval_on_selector_all("#method option", "os => os.map((o) => o.value)") == list(METHOD_CHOICES)
    assert page.input_value("#sr-model") == "auto"
    assert page.eval_on_selector_all("#sr-model option", "os => os.map((o) => o.value)") == served_models("sr")

    open_image(page, tiny_png(tmp_path / "tiny.png", 40, 32))
    assert page.is_enabled("#run")
    assert_layout(page)
    assert_no_result(page)
    page.check("#task-sr")
    assert_layout(page)
    page.check("#task-inpaint")
    page.click("#inpaint-options summary")  # the search settings open: still in view
    assert_layout(page)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_label_zoom_chain_undo_redo_and_reset(open_page, viewport, tmp_path):
    page = open_page(viewport)
    open_image(page, tiny_png(tmp_path / "tiny.png", 40, 32))

    # Undo and redo, by the buttons and the keyboard.
    paint(page)
    painted = from_page(page, "restoreApp.maskBase64()")
    assert (painted[..., 0] > 127).sum() > 20 and page.is_enabled("#undo") and page.is_disabled("#redo")
    page.click("#undo")
    assert not from_page(page, "restoreApp.maskBase64()")[..., 0].any() and page.is_enabled("#redo")
    page.click("#redo")
    assert np.array_equal(from_page(page, "restoreApp.maskBase64()"), painted) and page.is_disabled("#redo")
    page.keyboard.press("Control+z")
    assert page.evaluate("restoreApp.state.ops.length") == 0
    page.keyboard.press("Control+Shift+z")
    assert np.array_equal(from_page(page, "restoreApp.maskBase64()"), painted)

    # auto inpainting: the label says what auto chose and why, as `restore inpaint` does.
    assert run_and_wait(page) == "done", page.inner_text("#status")
    label = page.inner_text("#result-label")
    info = page.evaluate("restoreApp.state.result.job.info")
    assert info["requested"] == "auto" and info["method"] in ("telea", "ns", "biharmonic", "fsr-fast"), info
    assert label.startswith(f"Inpainting: auto → {info['method']}") and info["reason"] in label, label
    assert "the best classical method" in label
    assert page.get_attribute("#download", "download") == "tiny_inpainted.png"
    assert page.is_enabled("#use-result")
    assert_layout(page)

    # Zoom: 2x shows two screen pixels per result pixel; fit puts it back in the panel.
    page.select_option("#zoom", "2")
    assert page.evaluate("document.getElementById('compare-after').getBoundingClientRect().width") == 80
    page.select_option("#zoom", "fit")
    assert page.evaluate("document.getElementById('compare-after').getBoundingClientRect().width") <= 80

    # Chain: the inpainted result becomes the input, then bicubic x4 (the label says it was asked for).
    inpainted = from_page(page, "restoreApp.resultBase64()")
    page.click("#use-result")
    page.wait_for_function("() => document.body.dataset.state === 'image' && restoreApp.state.imageFile.name "
                           "=== 'tiny_inpainted.png'")
    assert_no_result(page)
    assert "tiny_inpainted.png: 40×32" in page.inner_text("#image-info")
    page.check("#task-sr")
    page.select_option("#sr-model", "bicubic")
    assert run_and_wait(page) == "done", page.inner_text("#status")
    from restore.pipelines import SuperResolver

    upscaled = from_page(page, "restoreApp.resultBase64()")
    assert np.array_equal(upscaled, SuperResolver.from_pretrained("bicubic", device="cpu")(inpainted))
    assert page.get_attribute("#download", "download") == "tiny_inpainted_x4.png"
    assert page.inner_text("#result-label") == "Super-resolution: bicubic, ×4 — chosen in the menu"
    assert_layout(page)

    # A new image: the old result, its download, label and metrics are gone; the mask history too.
    open_image(page, tiny_png(tmp_path / "other.png", 24, 20, seed=1))
    assert_no_result(page)
    assert page.evaluate("restoreApp.state.ops.length") == 0 and page.is_disabled("#undo")
    assert "other.png: 24×20" in page.inner_text("#image-info")
    assert_layout(page)


def test_sr_auto_is_labelled_with_its_choice_and_reason(open_page, tmp_path):
    from restore.registry import list_models

    if "srresnet-x4-real" not in {e.name for e in list_models("sr") if e.path.is_file()}:
        pytest.skip("srresnet-x4-real is not installed")
    page = open_page("laptop")
    jpeg = tmp_path / "web.jpg"
    Image.open(tiny_png(tmp_path / "web.png", 32, 24)).save(jpeg, quality=40)
    open_image(page, jpeg)
    page.check("#task-sr")
    assert run_and_wait(page) == "done", page.inner_text("#status")
    label = page.inner_text("#result-label")
    assert label.startswith("Super-resolution: auto → srresnet-x4-real, ×4 — ") and "JPEG quality 40 < 80" in label
    assert page.get_attribute("#download", "download") == "web_x4.png"


def test_progress_shows_steps_percentage_and_time_left(open_page, tmp_path):
    """The latent search's own steps reach the page: "step N of M, P%, about T s left" and a determinate
    bar; the done line says how many steps ran. (SR's tiles come the same way: test_serve checks them.)"""
    from restore.registry import list_models

    page = open_page("laptop")
    text = page.evaluate("""restoreApp.describe({task: 'sr', state: 'running', elapsed: 3.24,
        progress: {desc: 'srresnet-x4 x4', unit: 'tile', done: 3, total: 12, percent: 25, eta: 9.1}})""")
    assert text == "Super-resolution (srresnet-x4 x4): tile 3 of 12, 25%, about 9 s left · 3.2 s"
    if "fashion-dcgan" not in {e.name for e in list_models("gan") if e.path.is_file()}:
        pytest.skip("fashion-dcgan is not installed")

    open_image(page, tiny_png(tmp_path / "gray.png", 28, 28, gray=True))
    paint(page, 0.35, 0.4, 0.65, 0.6)
    page.click("#inpaint-options summary")
    page.fill("#steps", "150")
    page.fill("#restarts", "1")
    page.evaluate("""window.seen = [];
        new MutationObserver(() => { const bar = document.getElementById('progress');
            seen.push([document.getElementById('status').textContent, bar.max, bar.getAttribute('value')]); })
          .observe(document.getElementById('status'), {childList: true, characterData: true, subtree: true});""")
    assert run_and_wait(page) == "done", page.inner_text("#status")
    seen = page.evaluate("window.seen")
    steps = [s for s in seen if re.search(r"^Inpainting \(inpaint \(gan\)\): step \d+ of 150, \d+%", s[0])]
    assert steps, seen
    assert any(re.search(r", about (<1|\d+) s left · ", s[0]) for s in steps), seen
    assert all(s[1] == 150 and s[2] is not None for s in steps), steps
    assert "(150 of 150 steps)" in page.inner_text("#status")
    label = page.inner_text("#result-label")
    assert label.startswith("Inpainting: auto → gan search with fashion-dcgan — ") and "Fashion-MNIST" in label
