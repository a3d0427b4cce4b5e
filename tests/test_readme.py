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


def test_the_quick_start_figures_are_what_its_commands_print(tmp_path, run_cli):
    """The README quotes the quick start's `restore metrics` line: the numbers must be the ones printed."""
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"([\d.]+) dB / SSIM ([\d.]+) / LPIPS ([\d.]+) as printed", readme)
    assert quoted, "the quick start quotes its figures"
    code, _, err = run_cli("sr", ROOT / "examples" / "astronaut_lr_x4.png", "-o", tmp_path, "--device", "cpu")
    assert code == 0, err
    code, out, err = run_cli("metrics", ROOT / "examples" / "astronaut.png", tmp_path / "astronaut_lr_x4_x4.png",
                             "--y-channel", "--crop-border", "4", "--lpips")
    assert code == 0, err
    printed = re.search(r"astronaut\.png\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out)
    assert printed, out
    # exact on a CPU with bf16 units (where the README's figures were made); a CPU without them runs fp32,
    # which moves the last digit (bf16 changes Y-PSNR by <= 0.01 dB, docs/sr.md)
    for got, said, tolerance in zip(map(float, printed.groups()), map(float, quoted.groups()), (0.02, 0.002, 0.002)):
        assert abs(got - said) <= tolerance, (printed.groups(), quoted.groups())
