"""``restore serve [--host 127.0.0.1] [--port 8000] [--device auto]``: the web page and HTTP API.

Starts a local server (Starlette on uvicorn, the optional ``restore[serve]`` extra) and prints its URL.
The page opens or takes a dropped image, paints a mask or takes one, and runs inpainting or
super-resolution with a before/after view and a full-quality download; ``POST /api/inpaint`` and
``POST /api/sr`` do the same for scripts (see :mod:`restore.serve.app`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from restore.cli.options import add_device, number

EPILOG = """\
safety:
  The server listens on 127.0.0.1 (this machine only) unless --host says otherwise, answers only
  requests addressed to the name and port it is bound to (DNS rebinding protection) and refuses
  cross-site requests. Uploads are limited in bytes (--max-upload-mb) and pixels (RESTORE_MAX_PIXELS,
  as every command), one job runs at a time with at most --queue waiting (more are answered 503),
  and uploads and results live in a private temporary folder deleted when the server stops.

examples:
  restore serve                               # then open the printed URL
  curl -F image=@photo.png -F mask=@hole.png -F method=telea -o filled.png http://127.0.0.1:8000/api/inpaint
  curl -F image=@photo.png -F model=bicubic -F outscale=2 -o big.png http://127.0.0.1:8000/api/sr
"""

#: the modules the ``serve`` extra installs (python-multipart imports as python_multipart, formerly multipart)
NEEDED = (("starlette",), ("uvicorn",), ("python_multipart", "multipart"))


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="a local web page and HTTP API for inpainting and super-resolution", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve a web page (paint a mask, inpaint or upscale, compare, download) and an HTTP API "
                    "(POST /api/inpaint, POST /api/sr, GET /api/models) on this machine.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 = every "
                        "interface, with a warning: the server has no authentication)")
    p.add_argument("--port", type=number(int, low=0, high=65535), default=8000,
                   help="port (default: 8000; 0 = any free port, printed)")
    add_device(p)
    p.add_argument("--queue", type=number(int, low=1, high=1000), default=8, metavar="N",
                   help="jobs that may wait behind the running one; more are answered 503 (default: 8)")
    p.add_argument("--max-upload-mb", type=number(float, low=0, low_open=True, high=4096), default=64,
                   metavar="MB", help="largest request body in MiB, all files together (default: 64)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests addressed to NAME (e.g. this machine's name with --host 0.0.0.0); "
                        "repeatable")
    p.set_defaults(func=run)


def missing_extra() -> list[str]:
    """The ``serve`` extra's modules that are not installed (checked without importing them)."""
    return [names[0] for names in NEEDED if not any(importlib.util.find_spec(n) for n in names)]


def _bind(host: str, port: int):
    """A listening socket on ``host:port`` (``port`` 0: a free one), so the URL printed is already live."""
    import socket

    from restore.errors import RestoreError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise RestoreError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args) -> int:
    from restore.errors import RestoreError

    missing = missing_extra()
    if missing:
        raise RestoreError(f"restore serve needs the serve extra ({', '.join(missing)} not installed): "
                           "pip install 'restore[serve]'")
    import uvicorn

    from restore.serve.app import ServeConfig, create_app, is_loopback

    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    config = ServeConfig(host=args.host, port=port, device=args.device, queue=args.queue,
                         max_upload_bytes=int(args.max_upload_mb * 2**20), allow_hosts=tuple(args.allow_host))
    app = create_app(config)
    shown = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
    if not is_loopback(args.host):
        print(f"restore serve: warning: listening on {args.host}: other machines can reach this server, which "
              "has no authentication; use the default 127.0.0.1 unless you mean it", file=sys.stderr)
    print(f"restore serve: http://{shown}:{port}/", flush=True)
    print(f"restore serve: device {app.server.device}, one job at a time, {args.queue} may wait, uploads up to "
          f"{args.max_upload_mb:g} MiB; Ctrl-C stops", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=3, server_header=False,
                                           limit_concurrency=max(64, 4 * args.queue)))
    try:
        server.run(sockets=[sock])
    finally:
        app.server.close()
        sock.close()
    return 0
