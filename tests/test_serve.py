"""``restore serve``: the HTTP API against a real server on 127.0.0.1 (a ``restore serve`` subprocess).

Only classical work (Telea inpainting, bicubic SR): nothing needs a trained model. Covers the
results (pixels outside the hole unchanged, sizes, alpha / 16-bit / format kept, the CLI's naming),
bad uploads (4xx with the CLI's one-sentence error), 50 concurrent requests (every one answered, 200
or 503), a client leaving mid-job (the job stops, no file stays), the README's curl command, and the
private folder gone after shutdown.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples" / "astronaut.png"
QUEUE = 4            # jobs that may wait in the test server
MAX_UPLOAD_MB = 2    # small, so the oversized upload is cheap to send


def serve_extra_or_skip() -> None:
    """Skip without the ``serve`` extra, except in CI (CI=true installs it: a skip there would hide a break)."""
    from restore.cli.serve import missing_extra

    missing = missing_extra()
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"CI must install the serve extra ({', '.join(missing)} missing)")
    if missing:
        pytest.skip(f"the serve extra is not installed ({', '.join(missing)}): pip install -e '.[serve]'")


class ServeProcess:
    """``restore serve --port 0`` in a subprocess whose temporary folder is ``tmp`` (to watch it)."""

    def __init__(self, tmp: Path, *args: str, timeout: float = 90.0):
        self.tmp = tmp
        self.log = open(tmp / "serve.log", "w+")
        env = {**os.environ, "TMPDIR": str(tmp)}
        env.pop("RESTORE_MAX_PIXELS", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "restore.cli", "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=ROOT)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            first = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"restore serve printed no URL in {timeout:.0f} s: {self.stderr()}") from None
        match = re.search(r"http://([\d.]+):(\d+)/", first)
        assert match, f"no URL in {first!r}: {self.stderr()}"
        self.url = match.group(0)
        self.host, self.port = match.group(1), int(match.group(2))

    def stderr(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.tmp / "serve.log").read_text()

    def workdirs(self) -> list[Path]:
        return sorted(self.tmp.glob("restore-serve-*"))

    def job_folders(self) -> list[Path]:
        return [p for w in self.workdirs() for p in w.iterdir()]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def hole_mask(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A white-on-black mask with the hole ``(top, left, bottom, right)``."""
    mask = np.zeros((height, width), np.uint8)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = 255
    return mask


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    serve_extra_or_skip()
    tmp = tmp_path_factory.mktemp("serve")
    proc = ServeProcess(tmp, "--queue", str(QUEUE), "--max-upload-mb", str(MAX_UPLOAD_MB))
    yield proc
    code = proc.stop()
    # SIGTERM: graceful shutdown, then `restore: terminated` (143); the private folder is gone either way
    assert code in (0, 143), proc.stderr()
    assert proc.workdirs() == [], "the private temporary folder outlived the server"
    assert "Traceback" not in proc.stderr()


def api(server, path: str) -> str:
    return server.url.rstrip("/") + path


def post(server, path, files, fields=None, timeout=60):
    from restore.serve.client import post as client_post

    return client_post(api(server, path), files, fields, timeout=timeout)


def get_json(server, path):
    from restore.serve.client import request

    reply = request("GET", api(server, path))
    return reply.status, reply.json()


def raw_exchange(server, head: bytes, body_parts=(), read_timeout=30.0) -> tuple[int, bytes]:
    """Send a hand-made request on a socket (bodies no HTTP library would send) and read the answer."""
    with socket.create_connection((server.host, server.port), timeout=read_timeout) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    match = re.search(rb"content-length: (\d+)", data, flags=re.I)
    return int(match.group(1)) if match else 0


def assert_one_sentence_error(body: bytes, *fragments: str) -> str:
    message = json.loads(body)["error"]
    assert "\n" not in message and "Traceback" not in message and "/tmp" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---------------------------------------------------------------------------------------- results


def test_inpaint_telea_changes_only_the_hole(server):
    image = decode(ASTRONAUT.read_bytes())
    mask = hole_mask(256, 256, (100, 60, 130, 200))
    reply = post(server, "/api/inpaint", {"image": ("astronaut.png", ASTRONAUT.read_bytes()),
                                          "mask": ("hole.png", png_bytes(mask))}, {"method": "telea"})
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["content-type"] == "image/png"
    assert reply.headers["content-disposition"] == 'attachment; filename="astronaut_inpainted.png"'
    assert reply.headers["x-restore-size"] == "256x256"
    out = decode(reply.body)
    assert out.shape == image.shape
    assert np.array_equal(out[mask == 0], image[mask == 0])
    assert not np.array_equal(out[mask > 0], image[mask > 0])


def test_inpaint_equals_the_pipeline_and_scores_against_a_reference(server):
    """The server is the pipeline: the same pixels as Inpainter on the same file, and restore metrics' scores."""
    from restore.io import read_image
    from restore.metrics import psnr
    from restore.pipelines import Inpainter

    mask = hole_mask(256, 256, (30, 30, 60, 90))
    reply = post(server, "/api/inpaint", {"image": ("a.png", ASTRONAUT.read_bytes()), "mask": ("m.png", png_bytes(mask)),
                                          "reference": ("a.png", ASTRONAUT.read_bytes())}, {"method": "ns"})
    assert reply.status == 200, reply.body[:300]
    direct = Inpainter(method="ns")(decode(ASTRONAUT.read_bytes()), mask)
    assert np.array_equal(decode(reply.body), direct)
    metrics = json.loads(reply.headers["x-restore-metrics"])
    assert metrics["y_channel"] is False and metrics["crop_border"] == 0
    reference = read_image(ASTRONAUT).tensor
    import torch

    expected = float(psnr(torch.from_numpy(direct).permute(2, 0, 1)[None].float() / 255, reference)[0])
    assert metrics["psnr"] == pytest.approx(expected, abs=1e-6)


def test_sr_bicubic_and_the_input_format_with_alpha_and_16_bit(server, tmp_path):
    from restore.io import read_image, write_image

    rng = np.random.default_rng(0)
    import torch

    colour = torch.from_numpy(rng.random((1, 3, 20, 30), dtype=np.float32))
    alpha = torch.linspace(0, 1, 30).view(1, 1, 1, 30).expand(1, 1, 20, 30).contiguous()
    src = tmp_path / "rgba16.png"
    write_image(src, colour, alpha=alpha, bit_depth=16)
    reply = post(server, "/api/sr", {"image": ("rgba16.png", src.read_bytes())},
                 {"model": "bicubic", "outscale": "2", "format": "input"})
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["content-disposition"].endswith('filename="rgba16_x2.png"')
    out_path = tmp_path / "out.png"
    out_path.write_bytes(reply.body)
    out = read_image(out_path)
    assert out.size == (60, 40) and out.bit_depth == 16 and out.alpha is not None

    tiff = tmp_path / "gray.tiff"
    Image.fromarray((rng.random((16, 16)) * 255).astype(np.uint8)).save(tiff)
    reply = post(server, "/api/sr", {"image": ("gray.tiff", tiff.read_bytes())},
                 {"model": "lanczos", "format": "input", "scale": "2"})
    assert reply.status == 200 and reply.headers["content-type"] == "image/tiff", reply.body[:300]
    assert Image.open(io.BytesIO(reply.body)).size == (32, 32)
    preview = post(server, "/api/preview", {"image": ("rgba16.tiff", tiff.read_bytes())})
    assert preview.status == 200 and preview.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(preview.body)).size == (16, 16)


def test_sr_defaults_to_auto_as_the_cli_and_says_what_it_chose(server, tmp_path):
    from restore.registry import list_models

    if "srresnet-x4-real" not in {e.name for e in list_models("sr")}:
        pytest.skip("srresnet-x4-real is not shipped")
    status, models = get_json(server, "/api/models")
    assert models["sr"]["default_model"] == "auto" and models["sr"]["models"][0]["name"] == "auto"
    src = tmp_path / "web.jpg"
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(src, quality=40)
    reply = post(server, "/api/sr", {"image": ("web.jpg", src.read_bytes())}, {})
    assert reply.status == 200, reply.body[:300]
    info = json.loads(reply.headers["x-restore-info"])
    assert info["method"] == "auto" and info["model"] == "srresnet-x4-real"
    assert "JPEG quality 40 < 80" in info["reason"]
    assert Image.open(io.BytesIO(reply.body)).size == (128, 96)


def test_models_come_from_the_registry_and_the_methods_list(server):
    from restore.inpainting.methods import METHOD_CHOICES
    from restore.registry import list_models

    status, models = get_json(server, "/api/models")
    assert status == 200
    assert models["inpaint"]["methods"] == list(METHOD_CHOICES) and models["inpaint"]["default_method"] == "auto"
    names = [m["name"] for m in models["sr"]["models"]]
    assert {"bicubic", "lanczos"} <= set(names)
    assert {e.name for e in list_models("sr") if e.path.is_file()} <= set(names)
    from restore.io import max_pixels_default

    assert models["limits"]["max_pixels"] == max_pixels_default()
    assert models["limits"]["max_upload_bytes"] == MAX_UPLOAD_MB * 2**20


def test_page_job_polling_result_and_delete(server):
    from restore.serve.client import request

    mask = hole_mask(64, 64, (10, 10, 30, 40))
    image = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    reply = post(server, "/api/jobs/inpaint", {"image": ("p.png", png_bytes(image)), "mask": ("m.png", png_bytes(mask))},
                 {"method": "telea", "format": "input"})
    assert reply.status == 202, reply.body[:300]
    job = reply.json()
    deadline = time.monotonic() + 30
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = get_json(server, job["status_url"])[1]
    assert job["state"] == "done" and job["width"] == 64 and job["download_name"] == "p_inpainted.png"
    result = request("GET", api(server, job["result_url"]))
    assert result.status == 200 and np.array_equal(decode(result.body)[mask == 0], image[mask == 0])
    assert request("DELETE", api(server, job["status_url"])).status == 200
    assert get_json(server, job["status_url"])[0] == 404


def _run_page_job(server, task, files, fields, timeout=60):
    """Submit a page job, poll it to its end, delete it; every status seen (the last is the finished job's)."""
    from restore.serve.client import request

    reply = post(server, f"/api/jobs/{task}", files, fields)
    assert reply.status == 202, reply.body[:300]
    seen = [reply.json()]
    deadline = time.monotonic() + timeout
    while seen[-1]["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        seen.append(get_json(server, seen[-1]["status_url"])[1])
    assert seen[-1]["state"] == "done", seen[-1]
    assert request("DELETE", api(server, seen[-1]["status_url"])).status == 200  # no result left behind
    return seen


def test_page_jobs_report_tiles_and_steps_and_what_auto_chose(server):
    """The job status carries the pipeline's own bar (SR's tiles, the latent search's steps) and, for auto,
    the method or model chosen and why (as the CLI prints it); an explicit choice says it was asked for."""
    from restore.registry import list_models

    image = (np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8)
    seen = _run_page_job(server, "sr", {"image": ("t.png", png_bytes(image))}, {"model": "bicubic", "tile": "16"})
    done = seen[-1]
    assert done["progress"] == {"desc": "bicubic x4", "unit": "tile", "done": 16, "total": 16, "percent": 100.0,
                                "eta": 0.0}
    assert done["info"]["requested"] == "bicubic" and done["info"]["model"] == "bicubic"
    assert all(s["progress"] is None or s["progress"]["total"] == 16 for s in seen)

    mask = png_bytes(hole_mask(64, 64, (10, 10, 20, 30)))
    done = _run_page_job(server, "inpaint", {"image": ("t.png", png_bytes(image)), "mask": ("m.png", mask)}, {})[-1]
    assert done["info"]["requested"] == "auto" and done["info"]["method"] in ("telea", "ns", "biharmonic", "fsr-fast")
    assert "the best classical method" in done["info"]["reason"] and done["progress"] is None

    if "fashion-dcgan" not in {e.name for e in list_models("gan") if e.path.is_file()}:
        pytest.skip("fashion-dcgan is not installed")
    gray = (np.random.default_rng(3).random((28, 28)) * 255).astype(np.uint8)
    done = _run_page_job(server, "inpaint", {"image": ("g.png", png_bytes(gray)),
                                             "mask": ("m.png", png_bytes(hole_mask(28, 28, (10, 10, 16, 16))))},
                         {"steps": "8", "restarts": "1"})[-1]
    assert done["info"]["requested"] == "auto" and done["info"]["method"] == "gan"
    assert done["info"]["model"] == "fashion-dcgan" and "Fashion-MNIST" in done["info"]["reason"]
    assert done["progress"]["unit"] == "step" and done["progress"]["done"] == done["progress"]["total"] == 8


# ---------------------------------------------------------------------------------------- bad input


def _bomb_png(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side x side (400 MP at 20,000): 50 KB that would decode to gigabytes."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row * 1000) for _ in range(side // 1000)) + compressor.flush()
    ihdr = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


MASK = png_bytes(hole_mask(8, 8, (2, 2, 5, 5)))
SMALL = png_bytes(np.full((8, 8, 3), 100, np.uint8))


@pytest.mark.parametrize("files, fields, status, fragments", [
    ({"image": ("notes.txt", b"not an image at all"), "mask": ("m.png", MASK)}, {"method": "telea"}, 400,
     ("notes.txt: not an image restore can read",)),
    ({"image": ("bomb.png", _bomb_png()), "mask": ("m.png", MASK)}, {"method": "telea"}, 400,
     ("bomb.png: declared size 20000x20000", "pixel limit")),
    ({"image": ("empty.png", b""), "mask": ("m.png", MASK)}, {"method": "telea"}, 400, ("file is empty",)),
    ({"image": ("a.png", SMALL), "mask": ("m.png", png_bytes(np.zeros((8, 8), np.uint8)))}, {"method": "telea"}, 400,
     ("the mask is empty",)),
    ({"image": ("a.png", SMALL)}, {"method": "telea"}, 400, ("the mask file is missing",)),
    ({"image": ("a.png", SMALL), "mask": ("m.png", MASK)}, {"method": "telea", "output": "/etc/x.png"}, 400,
     ("unknown field 'output'",)),
    ({"image": ("a.png", SMALL), "mask": ("m.png", MASK)}, {"method": "gan", "model": "../weights/x.safetensors"}, 400,
     ("is not a model this server offers",)),
    ({"image": ("a.png", SMALL), "mask": ("m.png", MASK)}, {"restarts": "0"}, 400, ("field restarts: must be >= 1",)),
])
def test_bad_uploads_get_4xx_with_one_sentence(server, files, fields, status, fragments):
    reply = post(server, "/api/inpaint", files, fields)
    assert reply.status == status, reply.body[:300]
    assert_one_sentence_error(reply.body, *fragments)


def test_oversized_uploads_get_413_before_or_while_reading(server):
    too_big = MAX_UPLOAD_MB * 2**20 + 1
    head = (f"POST /api/inpaint HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {too_big}\r\n\r\n").encode()
    status, body = raw_exchange(server, head)  # refused on the header: nothing of the body is sent
    assert status == 413
    assert_one_sentence_error(body, "more than this server takes")

    # A chunked body has no length up front: counted while read, refused once over the limit.
    head = (f"POST /api/sr HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    part = b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"
    block = b"\x00" * (256 * 1024)
    chunks = [f"{len(part):x}\r\n".encode() + part + b"\r\n"] + \
             [f"{len(block):x}\r\n".encode() + block + b"\r\n"] * (MAX_UPLOAD_MB * 4 + 1)
    status, body = raw_exchange(server, head, chunks)
    assert status == 413
    assert_one_sentence_error(body, "larger than this server takes")


@pytest.mark.parametrize("content_type, body, status", [
    ("multipart/form-data", b"--x\r\n\r\n", 400),                                   # no boundary
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"image\"; "
                                        b"filename=\"a.png\"\r\n\r\n\x89PNG", 400),  # cut off mid-part
    ("multipart/form-data; boundary=x", b"garbage without any boundary", 400),
    ("multipart/form-data; boundary=x", b"--x\r\nX: y\r\n\r\nno disposition\r\n--x--\r\n", 400),
    ("application/json", b'{"image": "/etc/passwd"}', 415),
])
def test_malformed_bodies_get_4xx(server, content_type, body, status):
    head = (f"POST /api/inpaint HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    got, answer = raw_exchange(server, head, [body])
    assert got == status, answer[:300]
    assert_one_sentence_error(answer)


@pytest.mark.parametrize("headers, fragment", [
    ({"Host": "attacker.example:8000"}, "DNS rebinding"),
    ({"Origin": "http://attacker.example"}, "cross-site requests are refused"),
    ({"Sec-Fetch-Site": "cross-site"}, "cross-site requests are refused"),
])
def test_foreign_hosts_and_origins_are_refused(server, headers, fragment):
    from restore.serve.client import request

    reply = request("GET", api(server, "/api/models"), headers=headers)
    assert reply.status == 403
    assert_one_sentence_error(reply.body, fragment)
    ok = request("GET", api(server, "/api/models"), headers={"Host": f"localhost:{server.port}"})
    assert ok.status == 200  # a loopback bind answers its loopback names


# ---------------------------------------------------------------------------------------- load and faults


def test_50_concurrent_requests_all_answered_200_or_503(server):
    """50 clients at once: each answer is the right image or a quick 503; a client that retries after
    a 503 (bounded: 100 tries, 0.1 s apart) is served in the end, and the server's counters add up."""
    rng = np.random.default_rng(2)
    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    mask = hole_mask(64, 64, (20, 20, 40, 44))
    files = {"image": ("c.png", png_bytes(image)), "mask": ("m.png", png_bytes(mask))}
    before = get_json(server, "/api/status")[1]["counts"]

    def client(_):
        answers = []
        for _ in range(100):
            reply = post(server, "/api/inpaint", files, {"method": "telea"}, timeout=60)
            answers.append(reply)
            if reply.status != 503:
                break
            time.sleep(0.1)
        return answers

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        histories = list(pool.map(client, range(50)))
    seconds = time.monotonic() - start
    replies = [r for history in histories for r in history]
    first_wave = [history[0].status for history in histories]
    served = [r for r in replies if r.status == 200]
    busy = [r for r in replies if r.status == 503]
    assert len(served) + len(busy) == len(replies), sorted({r.status for r in replies})
    # at least a full queue in the first wave (when the burst lands before the worker has taken the first
    # job, which a loaded machine allows, QUEUE are waiting and none running); every client served in the end
    assert first_wave.count(200) >= QUEUE and len(served) == 50
    for reply in served:
        out = decode(reply.body)
        assert out.shape == image.shape and np.array_equal(out[mask == 0], image[mask == 0])
    for reply in busy:
        assert_one_sentence_error(reply.body, "the server is busy")
        assert reply.headers.get("retry-after") == "2"
    after = get_json(server, "/api/status")[1]
    assert after["counts"]["done"] - before["done"] == 50  # nothing lost, nothing run twice
    assert after["counts"]["rejected"] - before["rejected"] == len(busy)
    assert after["running"] is None and after["queued"] == 0 and server.job_folders() == []
    assert seconds < 60
    print(f"50 concurrent clients: first wave {first_wave.count(200)} served / {first_wave.count(503)} busy; "
          f"all served after {len(busy)} 503s in {seconds:.2f} s")


def _slow_sr_upload() -> bytes:
    """A smooth 1200x1200 image (small as PNG); bicubic x4 of it runs 16 tiles for several seconds."""
    yy, xx = np.mgrid[0:1200, 0:1200]
    return png_bytes(np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(np.uint8))


def _wait_until(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def test_a_client_leaving_mid_job_cancels_it_and_leaves_no_file(server):
    from restore.serve.client import encode_multipart

    counts = get_json(server, "/api/status")[1]["counts"]
    body, content_type = encode_multipart({"model": "bicubic"}, {"image": ("big.png", _slow_sr_upload())})
    head = (f"POST /api/sr HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.sendall(head + body)
    running = _wait_until(lambda: get_json(server, "/api/status")[1]["running"], 30)
    assert running and running["task"] == "sr"
    time.sleep(0.3)  # well inside the job: reading, then the tiles
    sock.close()     # the client goes away
    left = time.monotonic()
    idle = _wait_until(lambda: (s := get_json(server, "/api/status")[1])["running"] is None and s, 15)
    assert idle, "the job kept running after its client left"
    assert time.monotonic() - left < 5  # interrupted at a tile, not run to the end (about 8 s here)
    assert idle["counts"]["cancelled"] == counts["cancelled"] + 1 and idle["counts"]["done"] == counts["done"]
    assert server.job_folders() == []

    # The page's way: a job watched by server-sent events is cancelled when its only watcher leaves.
    reply = post(server, "/api/jobs/sr", {"image": ("big.png", _slow_sr_upload())}, {"model": "bicubic"})
    assert reply.status == 202
    job = reply.json()
    events = socket.create_connection((server.host, server.port), timeout=30)
    events.sendall(f"GET {job['events_url']} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n\r\n".encode())
    seen = b""
    while b'"state": "running"' not in seen:
        chunk = events.recv(4096)
        assert chunk, seen
        seen += chunk
    events.close()
    state = _wait_until(lambda: (j := get_json(server, job["status_url"])[1])["state"] == "cancelled" and j, 15)
    assert state and "went away" in state["error"]
    assert _wait_until(lambda: not server.job_folders(), 5) or server.job_folders() == []


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _models_answer_within(server, seconds: float) -> bool:
    from restore.serve.client import request

    started = time.monotonic()
    reply = request("GET", api(server, "/api/models"), timeout=seconds)
    return reply.status == 200 and time.monotonic() - started < seconds


def test_slowloris_and_clients_vanishing_mid_upload_do_not_stop_the_others(server):
    """30 clients trickling their headers a byte at a time and 10 that send part of an upload and vanish:
    meanwhile other clients are answered at once and an inpainting is served; afterwards no job or file
    is left and the counters saw none of the broken requests."""
    from restore.serve.client import encode_multipart

    counts = get_json(server, "/api/status")[1]["counts"]
    head = f"POST /api/inpaint HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: multipart/form-data"
    trickling = [socket.create_connection((server.host, server.port), timeout=10) for _ in range(30)]
    image = (np.random.default_rng(4).random((48, 48, 3)) * 255).astype(np.uint8)
    mask = hole_mask(48, 48, (10, 10, 30, 30))
    files = {"image": ("i.png", png_bytes(image)), "mask": ("m.png", png_bytes(mask))}
    body, content_type = encode_multipart({"method": "telea"}, files)
    upload_head = (f"POST /api/inpaint HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: {content_type}"
                   f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    try:
        for i, byte in enumerate(head.encode()[:40]):  # ~2 s of trickle on every slow socket
            for sock in trickling:
                sock.send(bytes([byte]))
            if i % 8 == 0:
                assert _models_answer_within(server, 2.0), "a trickling client held up the others"
                with socket.create_connection((server.host, server.port), timeout=10) as vanishing:
                    vanishing.sendall(upload_head + body[: len(body) // 2])  # half the upload, then gone
            time.sleep(0.05)
        reply = post(server, "/api/inpaint", files, {"method": "telea"}, timeout=30)
        assert reply.status == 200 and np.array_equal(decode(reply.body)[mask == 0], image[mask == 0])
    finally:
        for sock in trickling:
            sock.close()
    after = get_json(server, "/api/status")[1]
    assert after["counts"]["done"] == counts["done"] + 1  # only the complete request became a job
    assert after["running"] is None and after["queued"] == 0
    assert _wait_until(lambda: not server.job_folders(), 5) or server.job_folders() == []


def test_100_uploads_at_the_limit_at_once_then_memory_comes_back(server):
    """100 clients each send an image just under the upload limit at the same moment: every one gets an
    answer (200, or 503 busy), the served ones are right, and the server's memory returns to within
    100 MiB of where it was once they are done (no upload or result kept)."""
    rng = np.random.default_rng(9)
    side = 760  # random RGB at 760x760 is ~1.7 MB as PNG: under the 2 MiB limit with the mask and fields
    image = (rng.random((side, side, 3)) * 255).astype(np.uint8)
    mask = hole_mask(side, side, (300, 300, 340, 360))
    files = {"image": ("big.png", png_bytes(image)), "mask": ("m.png", png_bytes(mask))}
    assert MAX_UPLOAD_MB * 2**20 * 0.75 < sum(len(b) for _, b in files.values()) < MAX_UPLOAD_MB * 2**20
    post(server, "/api/inpaint", files, {"method": "telea"}, timeout=60)  # warm: imports, first allocations
    baseline = _rss_mb(server.proc.pid)

    def client(_):
        return post(server, "/api/inpaint", files, {"method": "telea"}, timeout=120)

    with ThreadPoolExecutor(max_workers=100) as pool:
        replies = list(pool.map(client, range(100)))
    statuses = sorted({r.status for r in replies})
    assert set(statuses) <= {200, 503}, statuses
    served = [r for r in replies if r.status == 200]
    assert len(served) >= QUEUE  # at least a full queue (the worker may not have taken the first one yet)
    for reply in served[:5]:
        assert np.array_equal(decode(reply.body)[mask == 0], image[mask == 0])
    assert _wait_until(lambda: get_json(server, "/api/status")[1]["running"] is None, 30)
    assert server.job_folders() == []
    grown = _wait_until(lambda: (g := _rss_mb(server.proc.pid) - baseline) < 100 and g + 1000, 10, step=0.5)
    assert grown, f"server memory {_rss_mb(server.proc.pid):.0f} MiB, {baseline:.0f} MiB before the burst"
    print(f"100 uploads of {sum(len(b) for _, b in files.values()) / 2**20:.2f} MiB: {len(served)} served, "
          f"{100 - len(served)} busy; RSS {baseline:.0f} -> {_rss_mb(server.proc.pid):.0f} MiB")


# ---------------------------------------------------------------------------------------- README and CLI


def readme_serve_section() -> str:
    """The serve documentation (docs/serve.md, linked from the README)."""
    return (ROOT / "docs" / "serve.md").read_text()


def test_the_readme_curl_command_runs_as_written(server, tmp_path):
    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is missing in CI")
        pytest.skip("curl is not installed")
    commands = [line for line in readme_serve_section().splitlines()
                if line.startswith("curl ") and "/api/inpaint" in line]
    assert len(commands) == 1, commands
    command = commands[0].replace("http://127.0.0.1:8000", server.url.rstrip("/"))
    shutil.copy(ASTRONAUT, tmp_path / "photo.png")
    (tmp_path / "hole.png").write_bytes(png_bytes(hole_mask(256, 256, (100, 60, 130, 200))))
    done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outputs = [p for p in tmp_path.iterdir() if p.name not in ("photo.png", "hole.png")]
    assert len(outputs) == 1
    assert Image.open(outputs[0]).size == (256, 256)
    assert "![" in readme_serve_section() and "](serve-screenshot.png)" in readme_serve_section()
    assert (ROOT / "docs" / "serve-screenshot.png").is_file()


def test_without_the_extra_one_line_and_exit_2(run_cli, monkeypatch):
    import restore.cli.serve as serve_cli

    monkeypatch.setattr(serve_cli, "missing_extra", lambda: ["starlette", "uvicorn"])
    code, out, err = run_cli("serve")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("restore: error: ")
    assert "pip install 'restore[serve]'" in err


def test_a_non_loopback_host_warns_and_checks_its_name(run_cli, monkeypatch):
    serve_extra_or_skip()
    import uvicorn

    from restore.serve.app import allowed_host_headers

    ran = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: ran.append(sockets))
    code, out, err = run_cli("serve", "--host", "0.0.0.0", "--port", "0", "--device", "cpu")
    assert code == 0 and ran and re.match(r"restore serve: http://0\.0\.0\.0:\d+/", out)
    assert "warning: listening on 0.0.0.0" in err and "no authentication" in err
    assert "example.org:80" in allowed_host_headers("0.0.0.0", 80, ("example.org",))
    assert allowed_host_headers("192.0.2.7", 8000) == {"192.0.2.7:8000"}
