"""pytest (doctests): ``app.py`` imports Starlette, so without the ``serve`` extra its doctests are left
out instead of failing collection; ``tests/test_serve.py`` says what is missing (and fails in CI)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("starlette") else ["app.py"]
