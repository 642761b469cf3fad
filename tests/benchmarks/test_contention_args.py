"""benchmarks/bench_contention.py gives the demo a command line the demo accepts (regression:
it still passed ``--no-thread-budget`` after the demo had moved to a fixed thread count and
dropped that flag, so every demo row of the benchmark would have failed)."""

import os
import tempfile
from pathlib import Path

import pytest

from skhier.demo import _parser


@pytest.fixture
def bench(benchmark_module):
    return benchmark_module("bench_contention")


@pytest.mark.parametrize("policy", ["budget", "budget+passive", "off"])
def test_the_demo_accepts_the_arguments_the_benchmark_gives_it(bench, policy, capsys):
    args = _parser().parse_args(bench.demo_argv(policy))  # an unknown flag exits: the test fails
    assert (args.n_train, args.n_test, args.epochs) == (6000, 2000, 2)
    assert args.threads == (os.cpu_count() if policy == "off" else 1)  # off: torch's own count
    assert Path(args.figure).parent == Path(tempfile.gettempdir())  # not the working tree


def test_the_demo_refuses_the_flag_it_dropped(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--no-thread-budget"])
    assert "unrecognized arguments: --no-thread-budget" in capsys.readouterr().err
