"""The scripts of ``benchmarks/`` imported as modules, afresh for each test."""

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def benchmark_module(monkeypatch):
    """``benchmark_module("hmc")``: ``benchmarks/hmc.py`` imported afresh, forgotten after the test."""
    loaded = []

    def load(name):
        monkeypatch.syspath_prepend(str(BENCH))
        sys.modules.pop(name, None)
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
