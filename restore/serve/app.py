"""The ``restore serve`` web application: one page and a small HTTP API over the pipelines.

Routes (all JSON errors are ``{"error": "one sentence"}``, the CLI's messages):

================================  =================================================================
``GET /``                         the page (``static/index.html``, ``app.js``, ``app.css``; no CDN)
``GET /api/models``               methods, models, formats, device and limits
``GET /api/status``               the running job, the queue, counters
``POST /api/inpaint``             multipart: ``image``, ``mask`` (white = hole) [, ``reference``] and
                                  option fields named like ``restore inpaint``'s long options
                                  (``method=telea``, ``steps``, ``restarts``, ``seed``...) -> the image
``POST /api/sr``                  multipart: ``image`` [, ``reference``], ``model``, ``outscale``... -> the image
``POST /api/preview``             multipart: ``image`` -> an 8-bit PNG a browser can show (TIFF...)
``POST /api/jobs/{task}``         the same as a page job: 202 ``{"id", "events_url", ...}``
``GET /api/jobs/{id}``            state, queue position, elapsed seconds, ``progress`` (the search's
                                  steps or SR's tiles: done, total, percent, eta seconds; ``null``
                                  when the pipeline has no bar), ``info`` (method/model used and,
                                  for ``auto``, the reason) and metrics when done
``GET /api/jobs/{id}/events``     the same as server-sent events until the job ends; when the last
                                  watcher leaves before that, the job is cancelled
``GET /api/jobs/{id}/result``     the full-quality file (PNG by default; ``format=input`` keeps the
                                  input's format; alpha, 16-bit and ICC profile kept)
``DELETE /api/jobs/{id}``         cancel (or forget a finished job and delete its file)
================================  =================================================================

A waiting ``POST /api/inpaint`` whose client disconnects cancels its job. Responses of the image
endpoints carry ``X-Restore-Seconds``, ``X-Restore-Size`` (``WxH``) and, with a ``reference`` file,
``X-Restore-Metrics`` (JSON: PSNR/SSIM as ``restore metrics`` computes them).

Safety: requests whose ``Host`` header is not the bound name and port are refused (DNS rebinding),
as are cross-site requests (``Origin`` / ``Sec-Fetch-Site``); bodies over ``max_upload_bytes`` get
413 before they are read; images over the CLI's pixel limit (``RESTORE_MAX_PIXELS``) are refused by
:func:`restore.io.read_image`; no request names a file on the server; uploads and results live in a
private temporary folder removed at exit.

Example (what ``restore serve`` does, in a script):
    >>> from restore.serve.app import ServeConfig, create_app
    >>> app = create_app(ServeConfig(port=8765, device="cpu"))   # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8765)   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import RestoreError
from ..io import IMAGE_EXTENSIONS
from . import tasks
from .jobs import Job, JobQueue, QueueFull

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8"}
#: Sent with every response: no framing, no sniffing, scripts and styles only from this server.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'; form-action 'none'"),
]


@dataclass
class ServeConfig:
    """How the server runs.

    Attributes:
        host, port: where it listens (the port actually bound, never 0, once the socket exists).
        device: the pipelines' ``--device``.
        queue: jobs that may wait behind the running one; more get 503.
        max_upload_bytes: largest request body (all files together).
        allow_hosts: more ``Host`` header names to accept (e.g. the machine's name for ``--host 0.0.0.0``).
        result_ttl: seconds a page job's result is kept after it finished.
        keep_results: page results kept at most (the oldest are deleted first).
        watch_timeout: seconds a page job may go unwatched (no events stream, no poll) before it is cancelled.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "auto"
    queue: int = 8
    max_upload_bytes: int = 64 * 2**20
    allow_hosts: tuple[str, ...] = ()
    result_ttl: float = 600.0
    keep_results: int = 16
    watch_timeout: float = 15.0
    workdir: Path | None = field(default=None, repr=False)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """True for ``0.0.0.0`` / ``::`` (every interface)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def allowed_host_headers(host: str, port: int, extra: tuple[str, ...] = ()) -> set[str]:
    """``Host`` header values the server answers (lower case).

    Example:
        >>> sorted(allowed_host_headers("127.0.0.1", 8000))
        ['127.0.0.1:8000', '[::1]:8000', 'localhost:8000']
    """
    names = set(n.lower() for n in extra)
    if is_loopback(host) or is_wildcard(host):
        names.update(LOOPBACK_NAMES)
    if not is_wildcard(host):
        names.add(f"[{host}]" if ":" in host and not host.startswith("[") else host.lower())
    allowed = {f"{n}:{port}" for n in names}
    if port == 80:  # browsers leave the default port out
        allowed |= names
    return allowed


class ApiError(Exception):
    """An answer other than success: ``status`` and one sentence."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class BodyTooLarge(Exception):
    """The request body went over the upload limit while it was read."""


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store", **(headers or {})})


class Guard:
    """ASGI middleware: Host / Origin checks, the body-size limit, security headers.

    Args:
        app: the application it protects.
        hosts: accepted ``Host`` header values (:func:`allowed_host_headers`).
        max_body: bytes; a larger ``Content-Length`` gets 413 at once, a longer chunked body raises
            :class:`BodyTooLarge` inside the reader (the endpoint answers 413).
    """

    def __init__(self, app, *, hosts: set[str], max_body: int):
        self.app, self.hosts, self.max_body = app, hosts, max_body
        self.origins = {f"http://{h}" for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_secure(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + SECURITY_HEADERS}
            await send(message)

        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        hosts = [v.strip().lower() for k, v in headers if k == "host"]
        refusal = None
        if len(hosts) != 1 or hosts[0] not in self.hosts:
            shown = hosts[0] if hosts else "none"
            refusal = (403, f"the Host header {shown!r} is not this server's (expected one of "
                            f"{', '.join(sorted(self.hosts))}); requests through other names are refused "
                            "(DNS rebinding protection)")
        else:
            origin = next((v for k, v in headers if k == "origin"), None)
            site = next((v for k, v in headers if k == "sec-fetch-site"), "")
            if (origin is not None and origin.lower() not in self.origins) or site.lower() == "cross-site":
                refusal = (403, "cross-site requests are refused: use the page this server serves, or a "
                                "client without an Origin header (curl)")
        length = next((v for k, v in headers if k == "content-length"), None)
        if refusal is None and length is not None:
            if not length.isdigit():
                refusal = (400, "the Content-Length header is not a number")
            elif int(length) > self.max_body:
                refusal = (413, f"the upload is {int(length) / 2**20:.1f} MiB, more than this server takes "
                                f"({self.max_body / 2**20:.1f} MiB, --max-upload-mb)")
        if refusal is not None:
            response = error_response(*refusal, headers={"connection": "close"})
            return await response(scope, receive, send_secure)

        seen = 0

        async def receive_limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        await self.app(scope, receive_limited, send_secure)


def _safe_stem(filename: str | None, fallback: str) -> str:
    """A download-name stem from a client's file name: letters, digits, ``._-`` only, at most 64 chars.

    >>> _safe_stem("../../etc/pass wd.png", "image")
    'pass_wd'
    """
    stem = Path((filename or "").replace("\\", "/")).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:64]
    return stem or fallback


class Server:
    """The application's state: config, private folder, job queue, pipeline cache.

    Created by :func:`create_app`; :meth:`close` (at shutdown and at exit) removes the private folder.
    """

    def __init__(self, config: ServeConfig):
        from ..device import resolve_device
        from ..io import max_pixels_default

        self.config = config
        self.device = str(resolve_device(config.device))
        max_pixels_default()  # a bad RESTORE_MAX_PIXELS stops the server at start, not each request
        self.workdir = Path(tempfile.mkdtemp(prefix="restore-serve-"))  # 0700: this user's only
        config.workdir = self.workdir
        self.cache = tasks.PipelineCache()
        self.queue = JobQueue(self._work, limit=config.queue, warm_up=self._warm_up)
        self._janitor: asyncio.Task | None = None
        self._closed = False
        atexit.register(self.close)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self.queue.start()
        self._janitor = asyncio.get_running_loop().create_task(self._sweep())

    def close(self) -> None:
        """Stop the worker (the running job is interrupted) and delete every upload and result."""
        if self._closed:
            return
        self._closed = True
        if self._janitor is not None:
            self._janitor.cancel()
        self.queue.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _warm_up(self) -> None:
        """Import what jobs use (torch, the pipelines, what they import lazily) before the first job:
        it is not slower than the rest, and no cancellation can land in the middle of an import."""
        import importlib

        for name in ("restore.pipelines.inpainting", "restore.pipelines.super_resolution", "restore.convert",
                     "restore.archs.classical", "restore.metrics", "restore.inpainting.masks", "kornia.color"):
            importlib.import_module(name)

    async def _sweep(self) -> None:
        """Every second: cancel page jobs nobody watches any more, delete expired results."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            finished = []
            for job in list(self.queue.jobs.values()):
                if not job.detached:
                    continue
                if not job.terminal and job.watchers == 0 and now - job.last_seen > self.config.watch_timeout:
                    self.queue.cancel(job, "nobody watched the job (the page was closed)")
                elif job.terminal and now - (job.finished or now) > self.config.result_ttl:
                    self.queue.discard(job)
                elif job.terminal:
                    finished.append(job)
            finished.sort(key=lambda j: j.finished or 0)
            for job in finished[:max(0, len(finished) - self.config.keep_results)]:
                self.queue.discard(job)

    # ------------------------------------------------------------------ the work (worker thread)
    def _work(self, job: Job):
        from ..device import progress_to

        payload = job.payload
        with progress_to(job.report_progress):  # the pipelines' bars (search steps, tiles) go to the job
            return tasks.run_task(payload["options"], payload["files"], job.folder, payload["stem"],
                                  device=self.device, cache=self.cache)

    # ------------------------------------------------------------------ requests
    def public(self, message: str | None, job: Job | None) -> str | None:
        """A message with the server's paths replaced by the uploads' names (no path leaves the server)."""
        if message is None:
            return None
        if job is not None and job.payload:
            for path, shown in job.payload["names"].items():
                message = message.replace(path, shown)
            message = message.replace(str(job.folder), "upload")
        return message.replace(str(self.workdir), "upload")

    async def intake(self, request: Request, task: str, *, detached: bool) -> Job:
        """Reserve a place, read and check the form, save the files, queue the job.

        Raises:
            ApiError: 503 (queue full, before the body is read), 415 (not multipart), 413 (too
                large), 400 (malformed body, unknown or invalid field, missing file).
        """
        try:
            reservation = self.queue.reserve()
        except QueueFull as exc:
            raise ApiError(503, str(exc), {"retry-after": "2"}) from None
        with reservation:
            ctype = request.headers.get("content-type", "")
            if not ctype.lower().startswith("multipart/form-data"):
                raise ApiError(415, "send the image as multipart/form-data (e.g. curl -F image=@photo.png)")
            try:
                form = await request.form(max_files=len(tasks.FILE_FIELDS[task]), max_fields=32,
                                          max_part_size=64 * 1024)
            except BodyTooLarge:
                raise ApiError(413, f"the upload is larger than this server takes "
                                    f"({self.config.max_upload_bytes / 2**20:.1f} MiB, --max-upload-mb)") from None
            except HTTPException as exc:
                raise ApiError(400, f"malformed multipart body ({str(exc.detail).rstrip('.')})") from None
            except Exception as exc:  # noqa: BLE001 - the multipart parser's own errors
                raise ApiError(400, f"malformed multipart body ({type(exc).__name__})") from None
            folder = None
            try:
                fields, uploads = {}, {}
                for name, value in form.multi_items():
                    is_file = not isinstance(value, str)
                    if name in fields or name in uploads:
                        raise ApiError(400, f"field {name!r} is given twice")
                    if is_file:
                        if name not in tasks.FILE_FIELDS[task]:
                            raise ApiError(400, f"unexpected file field {name!r} (files: "
                                                f"{', '.join(tasks.FILE_FIELDS[task])})")
                        uploads[name] = value
                    elif name in tasks.FILE_FIELDS[task]:
                        raise ApiError(400, f"field {name!r} must be a file upload (curl -F {name}=@FILE)")
                    else:
                        fields[name] = value
                for name in tasks.REQUIRED_FILES[task]:
                    if name not in uploads:
                        raise ApiError(400, f"the {name} file is missing (send it as a file field named {name}"
                                            + (", white = hole" if name == "mask" else "") + ")")
                try:
                    options = tasks.parse_options(task, fields)
                except RestoreError as exc:
                    raise ApiError(400, str(exc)) from None
                job = Job(task=task, folder=self.workdir, detached=detached)
                folder = job.folder = self.workdir / job.id
                folder.mkdir(mode=0o700)
                files, names = {}, {}
                for name, upload in uploads.items():
                    ext = Path(upload.filename or "").suffix.lower()
                    path = folder / f"upload-{name}{ext if ext in IMAGE_EXTENSIONS else '.bin'}"
                    with open(path, "wb") as fh:
                        while chunk := await upload.read(1 << 20):
                            fh.write(chunk)
                    files[name] = path
                    shown = Path((upload.filename or "").replace("\\", "/")).name[:80]
                    names[str(path)] = shown if shown.isprintable() and shown else name
            except BaseException:
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
            finally:
                await form.close()
            job.payload = {"options": options, "files": files, "names": names,
                           "stem": _safe_stem(uploads["image"].filename, "image")}
            try:
                return self.queue.submit(job, reservation)
            except QueueFull as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise ApiError(503, str(exc)) from None

    def job_json(self, job: Job) -> dict:
        """What ``GET /api/jobs/{id}`` answers."""
        data = {"id": job.id, "task": job.task, "state": job.state, "position": self.queue.position(job),
                "elapsed": round(job.elapsed(), 3), "progress": job.progress_json(),
                "status_url": f"/api/jobs/{job.id}", "events_url": f"/api/jobs/{job.id}/events"}
        if job.state in ("failed", "cancelled"):
            data.update(error=self.public(job.error, job), status=job.status)
        if job.state == "done":
            out = job.outcome
            data.update(result_url=f"/api/jobs/{job.id}/result", download_name=out.download_name,
                        media_type=out.media_type, width=out.width, height=out.height, seconds=round(job.elapsed(), 3),
                        metrics=_public_metrics(self, out.metrics, job), info=out.info)
        return data

    def find(self, job_id: str) -> Job:
        job = self.queue.jobs.get(job_id)
        if job is None or not job.detached:
            raise ApiError(404, f"no job {job_id!r} here (results are kept {self.config.result_ttl / 60:g} minutes)")
        return job


def _public_metrics(server: Server, metrics: dict | None, job: Job) -> dict | None:
    if metrics and "error" in metrics:
        return {**metrics, "error": server.public(metrics["error"], job)}
    return metrics


async def _wait_for(request: Request, job: Job, server: Server) -> bool:
    """Wait until ``job`` ends; True, or False when the client went away first (the job is then cancelled)."""
    changed, gone = asyncio.Event(), asyncio.Event()
    job.add_waiter(changed)

    async def watch_disconnect():
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                gone.set()
                changed.set()
                return

    watcher = asyncio.get_running_loop().create_task(watch_disconnect())
    try:
        while True:
            changed.clear()
            if job.terminal:
                return True
            if gone.is_set():
                server.queue.cancel(job, "the client disconnected")
                return False
            await changed.wait()
    finally:
        watcher.cancel()
        job.remove_waiter(changed)


def _image_response(server: Server, job: Job) -> Response:
    """The finished job's file as the response body; its folder is deleted before answering."""
    out = job.outcome
    data = out.path.read_bytes()
    server.queue.discard(job)
    headers = {"content-disposition": f'attachment; filename="{out.download_name}"', "cache-control": "no-store",
               "x-restore-seconds": f"{job.elapsed():.3f}", "x-restore-size": f"{out.width}x{out.height}"}
    if getattr(out, "info", None):  # what ran and why (auto's choice), as the CLI's stderr line says
        headers["x-restore-info"] = json.dumps(out.info, ensure_ascii=True, default=str)
    if out.metrics is not None:
        headers["x-restore-metrics"] = json.dumps(_public_metrics(server, out.metrics, job), ensure_ascii=True)
    return Response(data, media_type=out.media_type, headers=headers)


class JobEvents:
    """``text/event-stream`` of a job's status (every change, and twice a second while it runs) until it
    ends. The job counts its watchers; when the last one disconnects before the end, it is cancelled."""

    def __init__(self, server: Server, job: Job):
        self.server, self.job = server, job

    async def __call__(self, scope, receive, send):
        job, server = self.job, self.server
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store"),
                                (b"x-accel-buffering", b"no")]})
        changed, gone = asyncio.Event(), asyncio.Event()
        job.add_waiter(changed)
        job.watchers += 1

        async def watch_disconnect():
            while True:
                if (await receive())["type"] == "http.disconnect":
                    gone.set()
                    changed.set()
                    return

        watcher = asyncio.get_running_loop().create_task(watch_disconnect())
        try:
            while not gone.is_set():
                changed.clear()
                job.last_seen = time.monotonic()
                payload = json.dumps(server.job_json(job))
                await send({"type": "http.response.body", "body": f"data: {payload}\n\n".encode(), "more_body": True})
                if job.terminal:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), 0.5)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            job.remove_waiter(changed)
            job.watchers -= 1
            if gone.is_set() and job.watchers == 0 and not job.terminal:
                server.queue.cancel(job, "the page that watched the job went away")


def create_app(config: ServeConfig) -> "Guard":
    """The ASGI application for ``config`` (its port must be the bound one: the Host check uses it).

    The returned :class:`Guard` wraps the Starlette app; ``.server`` is the :class:`Server` (its
    ``workdir`` is the private folder, removed at shutdown).
    """
    server = Server(config)
    static_root = resources.files("restore.serve") / "static"
    static = {name: (static_root / name).read_bytes() for name in STATIC_FILES}

    def api(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request)
            except ApiError as exc:
                return error_response(exc.status, exc.message, exc.headers)
        return endpoint

    async def page(request: Request):
        return Response(static["index.html"], media_type=STATIC_FILES["index.html"])

    async def static_file(request: Request):
        name = request.path_params["name"]
        if name not in static or name == "index.html":
            raise ApiError(404, f"no static file {name!r}")
        return Response(static[name], media_type=STATIC_FILES[name], headers={"cache-control": "no-cache"})

    async def models(request: Request):
        from ..inpainting.methods import CLASSICAL_METHODS, METHOD_CHOICES
        from ..io import max_pixels_default
        from ..registry import list_models

        sr_defaults = tasks.parse_options("sr", {}).args
        inpaint_defaults = tasks.parse_options("inpaint", {}).args
        priors = [{"name": e.name, "task": e.task, "resolution": e.resolution, "description": e.description}
                  for task in ("gan", "vae") for e in list_models(task) if e.path.is_file()]
        sr_models = [{"name": e.name, "scale": e.scale, "description": e.description, "metrics": e.metrics}
                     for e in list_models("sr") if e.path.is_file()]
        shipped_default = next((m["name"] for m in sr_models if m["scale"] == 4), None)
        if shipped_default is not None:  # the CLI's default: the model chosen per image
            sr_models.insert(0, {"name": "auto", "scale": 4, "description": "per image: the real-world model for "
                                 "compressed or noisy inputs, else srresnet-x4 (as restore sr)"})
            shipped_default = "auto"
        sr_models += [{"name": name, "scale": None, "description": f"classical {name} (no weights)"}
                      for name in tasks.served_models("sr") if name not in {m["name"] for m in sr_models}]
        return JSONResponse({
            "inpaint": {"methods": list(METHOD_CHOICES), "classical": list(CLASSICAL_METHODS),
                        "default_method": inpaint_defaults.method, "models": priors,
                        "fields": list(tasks.OPTION_FIELDS["inpaint"])},
            "sr": {"models": sr_models, "default_model": sr_defaults.model or shipped_default or "bicubic",
                   "fields": list(tasks.OPTION_FIELDS["sr"])},
            "formats": list(tasks.FORMATS), "device": server.device,
            "limits": {"max_upload_bytes": config.max_upload_bytes, "max_pixels": max_pixels_default(),
                       "queue": config.queue},
        }, headers={"cache-control": "no-store"})

    async def status(request: Request):
        return JSONResponse({"device": server.device, **server.queue.status()}, headers={"cache-control": "no-store"})

    def run_now(task: str):
        async def handler(request: Request):
            job = await server.intake(request, task, detached=False)
            try:
                if not await _wait_for(request, job, server):
                    return error_response(499, "the client disconnected; the job was cancelled")
            except BaseException:
                server.queue.cancel(job, "the server stopped waiting")  # e.g. shutdown: never an orphan job
                raise
            if job.state == "done":
                return _image_response(server, job)
            message = server.public(job.error, job)
            server.queue.discard(job)
            return error_response(job.status if job.status != 499 else 503, message)
        return handler

    async def submit_job(request: Request):
        task = request.path_params["task"]
        if task not in ("inpaint", "sr", "preview"):
            raise ApiError(404, f"no task {task!r} (inpaint, sr, preview)")
        job = await server.intake(request, task, detached=True)
        return JSONResponse(server.job_json(job), status_code=202, headers={"cache-control": "no-store"})

    async def job_status(request: Request):
        job = server.find(request.path_params["id"])
        job.last_seen = time.monotonic()
        return JSONResponse(server.job_json(job), headers={"cache-control": "no-store"})

    async def job_events(request: Request):
        return JobEvents(server, server.find(request.path_params["id"]))

    async def job_result(request: Request):
        job = server.find(request.path_params["id"])
        job.last_seen = time.monotonic()
        if job.state in ("failed", "cancelled"):
            raise ApiError(job.status if job.status != 499 else 410, server.public(job.error, job))
        if job.state != "done":
            raise ApiError(409, f"the job is {job.state}; its result is not ready (watch {job.id}'s events)")
        out = job.outcome
        return FileResponse(out.path, media_type=out.media_type, filename=out.download_name,
                            headers={"cache-control": "no-store"})

    async def job_delete(request: Request):
        job = server.find(request.path_params["id"])
        was = job.state
        server.queue.cancel(job, "cancelled on request")
        if job.terminal:  # a running job ends at its next step; the sweep forgets it later
            server.queue.discard(job)
        return JSONResponse({"id": job.id, "state": job.state if job.terminal else "cancelling", "was": was})

    async def not_found(request: Request, exc: HTTPException):
        return error_response(exc.status_code, {404: "no such page or API route",
                                                405: "this route does not take that HTTP method"}.get(
                                                    exc.status_code, str(exc.detail)))

    async def internal_error(request: Request, exc: Exception):
        print(f"restore serve: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("RESTORE_DEBUG"):
            import traceback

            traceback.print_exception(exc)
        return error_response(500, f"internal error: {type(exc).__name__} (the server's console has the details)")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        server.start()
        try:
            yield
        finally:
            server.close()

    routes = [
        Route("/", page),
        Route("/static/{name}", api(static_file)),
        Route("/api/models", models),
        Route("/api/status", status),
        Route("/api/inpaint", api(run_now("inpaint")), methods=["POST"]),
        Route("/api/sr", api(run_now("sr")), methods=["POST"]),
        Route("/api/preview", api(run_now("preview")), methods=["POST"]),
        Route("/api/jobs/{task}", api(submit_job), methods=["POST"]),
        Route("/api/jobs/{id}", api(job_status), methods=["GET"]),
        Route("/api/jobs/{id}", api(job_delete), methods=["DELETE"]),
        Route("/api/jobs/{id}/events", api(job_events)),
        Route("/api/jobs/{id}/result", api(job_result)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: not_found, Exception: internal_error})
    app.state.server = server
    hosts = allowed_host_headers(config.host, config.port, config.allow_hosts)
    guard = Guard(app, hosts=hosts, max_body=config.max_upload_bytes)
    guard.server = server
    return guard

