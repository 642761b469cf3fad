"""Every example stays runnable."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="the examples draw with matplotlib: pip install 'skhier[plot]'")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out  # every example reports something


def test_demo_quick_runs(capsys):
    from skhier.demo import main

    rows = main(["--quick"])
    assert len(rows) == 3 and all(0 <= r[1] <= 100 for r in rows)
