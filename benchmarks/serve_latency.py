"""``restore serve`` latency: requests/s and p50/p95 of ``POST /api/inpaint`` (Telea, 256x256).

Starts ``restore serve --port 0`` on 127.0.0.1 (or uses ``--url`` of a running server), warms it up,
then times the whole request as a client sees it (upload, queue, decode, Telea, PNG encode, answer):

* **sequential**: one client, one request at a time (the latency of a lone user);
* **concurrent**: ``--clients`` clients at once (default 4, within the default queue of 8, so no 503);
  latency then includes the wait behind the others, since the server runs one job at a time.

``job`` is the server's own time per request (``X-Restore-Seconds``: decode + inpaint + encode); the
rest of the latency is HTTP, multipart and queueing. Requests are bounded (``--requests``) and go to
127.0.0.1 only.

Usage:
    python benchmarks/serve_latency.py                       # 100 + 100 requests, about 30 s on 2 cores
    python benchmarks/serve_latency.py --requests 20 --note "idle machine"
    python benchmarks/serve_latency.py --server-threads 0,1   # PyTorch's default threads, then one

Prints a table and writes ``benchmarks/results/serve_latency.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "examples" / "astronaut.png"
RESULTS = ROOT / "benchmarks" / "results" / "serve_latency.json"


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _start_server(threads: int) -> tuple[subprocess.Popen, str]:
    """``restore serve --port 0`` with ``threads`` intra-op threads (0: PyTorch's default, one per core)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.Popen([sys.executable, "-m", "restore.cli", "serve", "--port", "0", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    match = re.search(r"http://\S+", line[0] if line else "")
    if not match:
        proc.kill()
        raise SystemExit("restore serve did not start (is the serve extra installed? pip install -e '.[serve]')")
    return proc, match.group(0)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _run(url: str, files: dict, clients: int, requests: int) -> dict:
    """``requests`` POSTs from ``clients`` threads; latency and outcome of each."""
    from restore.serve.client import post

    latencies, jobs, statuses = [], [], []
    lock = threading.Lock()

    def one(_):
        start = time.perf_counter()
        reply = post(url + "api/inpaint", files, {"method": "telea"}, timeout=120)
        elapsed = time.perf_counter() - start
        with lock:
            statuses.append(reply.status)
            if reply.status == 200:
                latencies.append(elapsed)
                jobs.append(float(reply.headers["x-restore-seconds"]))

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": requests, "ok": statuses.count(200), "busy_503": statuses.count(503),
            "other": len(statuses) - statuses.count(200) - statuses.count(503), "wall_s": wall,
            "requests_per_s": statuses.count(200) / wall, "p50_ms": 1e3 * _percentile(latencies, 50),
            "p95_ms": 1e3 * _percentile(latencies, 95), "max_ms": 1e3 * max(latencies, default=float("nan")),
            "job_p50_ms": 1e3 * _percentile(jobs, 50)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="a running server (default: start one on 127.0.0.1)")
    parser.add_argument("--requests", type=int, default=100, help="requests per mode (default: 100)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default: 4)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default: 5)")
    parser.add_argument("--server-threads", default="0", metavar="N[,N]",
                        help="PyTorch threads of the server it starts (OMP_NUM_THREADS), one run per value; "
                             "0 = PyTorch's default (default: 0)")
    parser.add_argument("--note", default="", help="what else the machine was doing (recorded)")
    parser.add_argument("--out", default=str(RESULTS), help=f"JSON file (default: {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 10_000 or not 1 <= args.clients <= 64:
        parser.error("--requests must be in 1..10000 and --clients in 1..64")

    mask = np.zeros((256, 256), np.uint8)
    mask[100:132, 64:192] = 255  # a 32x128 hole: the size of a removed caption or scratch
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, format="PNG")
    files = {"image": (IMAGE.name, IMAGE.read_bytes()), "mask": ("hole.png", buf.getvalue())}

    load_before = os.getloadavg()
    rows = []
    for threads in ([None] if args.url else [int(t) for t in args.server_threads.split(",")]):
        proc, url = (None, args.url) if args.url else _start_server(threads)
        url = url.rstrip("/") + "/"
        if not re.match(r"http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]", url):
            raise SystemExit(f"{url}: this benchmark only talks to a server on this machine (127.0.0.1)")
        try:
            _run(url, files, 1, args.warmup)
            shown = "server's own" if args.url else (threads or "default")
            rows += [{"mode": "sequential", "server_threads": shown, **_run(url, files, 1, args.requests)},
                     {"mode": "concurrent", "server_threads": shown, **_run(url, files, args.clients, args.requests)}]
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    import torch

    record = {
        "benchmark": "POST /api/inpaint, method=telea, 256x256 RGB PNG, 32x128 hole",
        "cpu": _cpu_name(), "cores": os.cpu_count(), "torch_default_threads": torch.get_num_threads(),
        "load_average_before": [round(v, 2) for v in load_before], "note": args.note,
        "python": platform.python_version(), "command": shlex.join(["python", "benchmarks/serve_latency.py", *(argv if argv is not None else sys.argv[1:])]),
        "rows": rows,
    }
    header = f"{'mode':<11} {'threads':>7} {'clients':>7} {'ok':>5} {'503':>4} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'job p50 ms':>10}"
    print(f"{record['benchmark']} on {record['cpu']} ({record['cores']} cores, load {record['load_average_before'][0]})")
    print(header)
    for r in rows:
        print(f"{r['mode']:<11} {r['server_threads']!s:>7} {r['clients']:>7} {r['ok']:>5} {r['busy_503']:>4} {r['requests_per_s']:>7.1f} "
              f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['max_ms']:>8.1f} {r['job_p50_ms']:>10.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return record


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
