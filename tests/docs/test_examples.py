"""Every example stays runnable."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").rglob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="the examples draw with matplotlib: pip install 'skhier[plot]'")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out  # every example reports something


def test_demo_quick_runs(capsys, tmp_path):
    from skhier.demo import main

    rows = main(["--quick", "--figure", str(tmp_path / "demo.png")])
    assert len(rows) == 3 and all(0 <= r[1] <= 100 for r in rows)
    out = capsys.readouterr().out
    assert "[demo] 3/3 HCAMCLClassifier, backbone" in out and "device" in out  # the backbone and device named
    if __import__("importlib").util.find_spec("matplotlib"):
        assert f"written to {tmp_path / 'demo.png'}" in out and (tmp_path / "demo.png").stat().st_size > 1000
