"""Every Python block of the README and of docs/*.md runs as written (from the repository root, as a reader
would); the README stays short (<= 250 lines) and every docs page it links exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(page.relative_to(ROOT).as_posix(), block) for page in PAGES
          for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)]


def test_the_readme_has_python_examples_and_stays_short():
    readme = (ROOT / "README.md").read_text()
    assert sum(1 for page, _ in BLOCKS if page == "README.md") >= 2
    assert len(readme.splitlines()) <= 250
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"{p}-{i}" for i, (p, _) in enumerate(BLOCKS)])
def test_readme_python_block_runs(index, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    page, block = BLOCKS[index]
    exec(compile(block, f"{page} python block {index + 1}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip(), "a README example should show its result"
