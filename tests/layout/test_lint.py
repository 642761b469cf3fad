"""The code meets its own lint configuration (``[tool.ruff]`` in pyproject.toml: pycodestyle,
pyflakes and isort at 120 columns), so style cannot drift; ruff comes with the ``test``
extra."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed: pip install 'skhier[test]'")
    paths = [p for p in ("skhier", "tests", "benchmarks", "examples") if (ROOT / p).exists()]
    out = subprocess.run([ruff, "check", "--no-cache", *paths], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
