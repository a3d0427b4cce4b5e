"""``restore serve``: a local web page and HTTP API over the inpainting and super-resolution pipelines.

Needs the optional extra: ``pip install 'restore[serve]'`` (Starlette, uvicorn, python-multipart).

* :mod:`restore.serve.app`: the ASGI application (:func:`~restore.serve.app.create_app`), its routes
  and safety checks.
* :mod:`restore.serve.jobs`: one job at a time on the device, a bounded queue, cancellation.
* :mod:`restore.serve.tasks`: a request's fields parsed by the CLI's own parsers, then the pipelines.
* :mod:`restore.serve.client`: a standard-library client (``post(url, files, fields)``).
* ``static/``: the page (plain HTML, CSS and JavaScript; nothing fetched from elsewhere).

Example:
    >>> from restore.serve.client import encode_multipart
    >>> body, content_type = encode_multipart({"method": "telea"}, {"image": ("a.png", b"...")})
    >>> content_type.startswith("multipart/form-data; boundary=")
    True
"""
