"""One job at a time on the device, a bounded queue in front of it, and cancellation.

:class:`JobQueue` owns a single worker thread (the device does one thing at a time: two jobs side by
side would only fight over the same cores or GPU memory). A request first *reserves* a place
(:meth:`JobQueue.reserve`, before its body is read), so a full queue is answered at once with
:class:`QueueFull` (HTTP 503), never a hang. Cancelling a queued job removes it; cancelling a running
one raises :class:`JobCancelled` inside the worker thread at the pipeline's next Python step (a
search step, a tile), so a client that goes away leaves no orphan work. Every job's files live in its
own folder under the server's private temporary folder and are deleted when the job is cancelled,
fails, or its result is fetched (synchronous requests) or expires (page jobs).

Example:
    >>> import tempfile, time
    >>> from pathlib import Path
    >>> q = JobQueue(lambda job: time.sleep(0.01) or "ok", limit=2)
    >>> q.start()
    >>> job = q.submit(Job(task="sr", folder=Path(tempfile.mkdtemp())), q.reserve())
    >>> job.wait(5), job.state, job.outcome
    (True, 'done', 'ok')
    >>> q.discard(job); q.stop()
"""

from __future__ import annotations

import asyncio
import ctypes
import secrets
import shutil
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import RestoreError

TERMINAL = ("done", "failed", "cancelled")


class JobCancelled(BaseException):
    """Raised inside the worker to stop a running job (a BaseException: ``except Exception`` in a
    library cannot swallow it)."""


class QueueFull(RestoreError):
    """Every place in the queue is taken: HTTP 503."""


@dataclass(eq=False)
class Job:
    """A request's work and its state, shared between the HTTP side and the worker thread.

    Attributes:
        task: ``"inpaint"``, ``"sr"`` or ``"preview"``.
        folder: the job's private folder (uploads and result); removed by :meth:`JobQueue.discard`.
        payload: what the worker function needs (options, file paths).
        detached: a page job (polled or watched by events) rather than a request waiting for its answer.
        state: ``queued`` -> ``running`` -> ``done`` / ``failed`` / ``cancelled``.
        status: the HTTP status for a failure (400 for a :class:`RestoreError`, 500 for a bug).
        error: one sentence for a failure or a cancellation.
        outcome: what the worker function returned.
        version: bumped on every change (watchers wait on it).
        progress: the pipeline's latest bar (:meth:`report_progress`): ``{"desc", "unit", "done",
            "total", "started", "updated"}``, or ``None`` while it has none (one tile, a classical method).
    """

    task: str
    folder: Path
    payload: Any = None
    detached: bool = False
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    state: str = "queued"
    status: int = 200
    error: str | None = None
    outcome: Any = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    last_seen: float = field(default_factory=time.monotonic)
    watchers: int = 0
    version: int = 0
    cancel_requested: bool = False
    progress: dict | None = None
    _notified: float = 0.0
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _waiters: list = field(default_factory=list, repr=False)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def elapsed(self) -> float:
        """Seconds running (or ran); 0 while queued."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def report_progress(self, desc: str, done: int, total: int, unit: str) -> None:
        """A pipeline's bar moved (called in the worker thread through :func:`restore.device.progress_to`).

        A new bar (another description, or back to 0) restarts the clock the estimate is based on;
        watchers are woken at most four times a second, and at the bar's end.
        """
        now = time.monotonic()
        last = self.progress
        started = now if last is None or last["desc"] != desc or done < last["done"] or done == 0 else last["started"]
        self.progress = {"desc": desc, "unit": unit, "done": int(done), "total": int(total or 0),
                         "started": started, "updated": now}
        if now - self._notified >= 0.25 or (total and done >= total):
            self._notified = now
            self._changed()

    def progress_json(self) -> dict | None:
        """``{"desc", "unit", "done", "total", "percent", "eta"}`` (``eta``: seconds left at the bar's
        rate so far, ``None`` before its first step), or ``None`` without a bar."""
        p = self.progress
        if p is None:
            return None
        done, total = p["done"], p["total"]
        percent = round(100.0 * done / total, 1) if total else None
        eta = None
        if total and 0 < done:
            rate = (p["updated"] - p["started"]) / done  # seconds per step
            eta = 0.0 if done >= total else max(0.0, (total - done) * rate - (time.monotonic() - p["updated"]))
            eta = round(eta, 1)
        return {"desc": p["desc"], "unit": p["unit"], "done": done, "total": total, "percent": percent, "eta": eta}

    def wait(self, timeout: float | None = None) -> bool:
        """Block (a thread) until the job is done, failed or cancelled; False on timeout."""
        return self._done.wait(timeout)

    def add_waiter(self, event: asyncio.Event) -> None:
        """Set ``event`` (from any thread) whenever the job changes; call from the event loop."""
        self._waiters.append((asyncio.get_running_loop(), event))

    def remove_waiter(self, event: asyncio.Event) -> None:
        self._waiters = [(loop, ev) for loop, ev in self._waiters if ev is not event]

    def _changed(self) -> None:
        self.version += 1
        if self.terminal:
            self._done.set()
        for loop, event in list(self._waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop has closed (server stopping)
                pass


def _raise_in_thread(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Schedule ``exc_type`` in a thread (``None`` clears a pending one): the standard CPython way to
    interrupt Python code running in another thread. It lands at the thread's next bytecode boundary;
    a long C call (one convolution) finishes first."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type) if exc_type else None)


class JobQueue:
    """A bounded FIFO of :class:`Job` served by one worker thread.

    Args:
        work: ``work(job) -> outcome``, run in the worker thread; a :class:`RestoreError` fails the job
            with HTTP 400 and its message, any other exception with HTTP 500.
        limit: jobs that may wait (the running one not counted); more get :class:`QueueFull`.
        warm_up: called once in the worker thread before the first job (imports, so the first request
            is not slower than the rest).
    """

    def __init__(self, work: Callable[[Job], Any], *, limit: int = 8, warm_up: Callable[[], None] | None = None):
        if limit < 1:
            raise ValueError(f"the queue limit must be >= 1, got {limit}")
        self.work, self.limit, self.warm_up = work, limit, warm_up
        self.jobs: dict[str, Job] = {}
        self.running: Job | None = None
        self.counts = {"done": 0, "failed": 0, "cancelled": 0, "rejected": 0}
        self._waiting: deque[Job] = deque()
        self._reserved = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._interruptible: Job | None = None  # the job whose code may be interrupted right now

    # ------------------------------------------------------------------ the HTTP side
    def reserve(self) -> "Reservation":
        """Hold a place in the queue while a request's upload is read (raises :class:`QueueFull`)."""
        with self._lock:
            if self._stopping:
                raise QueueFull("the server is stopping")
            if len(self._waiting) + self._reserved >= self.limit:
                self.counts["rejected"] += 1
                raise QueueFull(f"the server is busy: {self.limit} job(s) are already waiting (the limit set by "
                                "--queue); try again in a moment")
            self._reserved += 1
        return Reservation(self)

    def submit(self, job: Job, reservation: "Reservation") -> Job:
        """Queue ``job`` in the place ``reservation`` holds."""
        with self._lock:
            reservation.used = True
            self._reserved -= 1
            if self._stopping:
                raise QueueFull("the server is stopping")
            self.jobs[job.id] = job
            self._waiting.append(job)
            self._wake.notify()
        return job

    def position(self, job: Job) -> int:
        """How many jobs run before ``job`` (the running one included); 0 once it runs."""
        with self._lock:
            if job.state != "queued":
                return 0
            try:
                return self._waiting.index(job) + (self.running is not None)
            except ValueError:
                return 0

    def cancel(self, job: Job, reason: str = "cancelled") -> None:
        """Stop ``job``: out of the queue if waiting, interrupted if running; its folder is removed."""
        with self._lock:
            if job.terminal:
                return
            job.cancel_requested = True
            if job.state == "queued":
                self._waiting.remove(job)
                self._finish(job, "cancelled", 499, reason)
            elif self._interruptible is job and self._thread is not None:
                _raise_in_thread(self._thread.ident, JobCancelled)
                self._interruptible = None  # one interruption per job
            job.error = reason
        if job.state == "cancelled":
            self.drop_files(job)

    def drop_files(self, job: Job) -> None:
        """Delete a finished job's folder; a page job's record stays (its pollers learn what happened),
        a waiting request's is forgotten."""
        shutil.rmtree(job.folder, ignore_errors=True)
        if not job.detached:
            with self._lock:
                self.jobs.pop(job.id, None)

    def discard(self, job: Job) -> None:
        """Forget a finished job and delete its folder (its result too); a running one is cancelled."""
        if not job.terminal:
            self.cancel(job)
            return
        with self._lock:
            self.jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def status(self) -> dict:
        """``{"running": {...} or None, "queued", "limit", "counts"}`` for ``GET /api/status``."""
        with self._lock:
            running = self.running
            # no job ids here: an id is the key to a page job's result, only its submitter knows it
            return {"running": None if running is None else {"task": running.task,
                                                             "elapsed": round(running.elapsed(), 3)},
                    "queued": len(self._waiting), "reserved": self._reserved, "limit": self.limit,
                    "counts": dict(self.counts)}

    # ------------------------------------------------------------------ the worker
    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="restore-serve-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel everything (the running job is interrupted) and wait for the worker to end."""
        with self._lock:
            self._stopping = True
            pending = list(self._waiting) + ([self.running] if self.running else [])
            self._wake.notify_all()
        for job in pending:
            self.cancel(job, "the server is stopping")
        if self._thread is not None:
            self._thread.join(timeout)

    def _serve(self) -> None:
        if self.warm_up is not None:
            try:
                self.warm_up()
            except Exception as exc:  # noqa: BLE001 - a failed warm-up shows again in the first job
                print(f"restore serve: warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        while True:
            with self._lock:
                while not self._waiting and not self._stopping:
                    self._wake.wait()
                if self._stopping and not self._waiting:
                    return
                job = self._waiting.popleft()
                job.state, job.started, self.running = "running", time.monotonic(), job
                job._changed()
            self._run(job)

    def _run(self, job: Job) -> None:
        me = threading.get_ident()
        outcome = state = error = None
        status = 200
        try:
            with self._lock:
                if job.cancel_requested:
                    raise JobCancelled
                self._interruptible = job
            try:
                outcome = self.work(job)
            finally:
                with self._lock:
                    self._interruptible = None
                    _raise_in_thread(me, None)  # an interruption that arrived too late is dropped
            state = "done"
        except JobCancelled:
            state, status, error = "cancelled", 499, job.error or "cancelled"
        except RestoreError as exc:
            state, status, error = "failed", 400, str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug: one line for the client, the traceback here
            import os

            state, status = "failed", 500
            error = f"internal error: {type(exc).__name__} (the server's console has the details)"
            print(f"restore serve: internal error in job {job.id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            if os.environ.get("RESTORE_DEBUG"):
                traceback.print_exc()
        with self._lock:
            if state == "done" and job.cancel_requested:  # finished just as it was cancelled
                state, status, error = "cancelled", 499, job.error or "cancelled"
            job.outcome = outcome if state == "done" else None
            self.running = None
            self._finish(job, state, status, error)
        if state != "done":
            self.drop_files(job)

    def _finish(self, job: Job, state: str, status: int, error: str | None) -> None:
        """Record the end of ``job`` (with the lock held)."""
        job.state, job.status, job.error, job.finished = state, status, error, time.monotonic()
        self.counts[state] += 1
        job._changed()


class Reservation:
    """A place held in a :class:`JobQueue`; give it back with :meth:`release` if no job is submitted.

    Usable as a context manager: leaving without :meth:`JobQueue.submit` releases the place.
    """

    def __init__(self, queue: JobQueue):
        self.queue, self.used = queue, False

    def release(self) -> None:
        with self.queue._lock:
            if not self.used:
                self.used = True
                self.queue._reserved -= 1

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
