"""A standard-library client for ``restore serve`` (scripts, the tests, ``benchmarks/serve_latency.py``).

Example:
    >>> from restore.serve.client import post   # doctest: +SKIP
    >>> reply = post("http://127.0.0.1:8000/api/inpaint",
    ...              files={"image": ("photo.png", open("photo.png", "rb").read()),
    ...                     "mask": ("hole.png", open("hole.png", "rb").read())},
    ...              fields={"method": "telea"})   # doctest: +SKIP
    >>> reply.status, reply.headers["content-type"], len(reply.body)   # doctest: +SKIP
    (200, 'image/png', 101352)
"""

from __future__ import annotations

import http.client
import json
import secrets
import urllib.parse
from dataclasses import dataclass


@dataclass
class Reply:
    """An HTTP answer: ``status``, lower-cased ``headers`` and the ``body`` bytes."""

    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def encode_multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """``(body, content type)`` of a ``multipart/form-data`` request.

    Args:
        fields: ``{name: text}``, e.g. ``{"method": "telea"}``.
        files: ``{name: (file name, bytes)}``, e.g. ``{"image": ("a.png", data)}``.
    """
    boundary = "restore" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        parts.append(head + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 60.0) -> Reply:
    """One HTTP request on a fresh connection (``http://`` only: the server is local)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"expected an http:// URL, got {url!r}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        answer = conn.getresponse()
        return Reply(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
    finally:
        conn.close()


def post(url: str, files: dict[str, tuple[str, bytes]], fields: dict[str, str] | None = None,
         timeout: float = 60.0) -> Reply:
    """``POST`` a multipart form (e.g. to ``/api/inpaint``) and return the :class:`Reply`."""
    body, content_type = encode_multipart({k: str(v) for k, v in (fields or {}).items()}, files)
    return request("POST", url, body, {"Content-Type": content_type}, timeout)
